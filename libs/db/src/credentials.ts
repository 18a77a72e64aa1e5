import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys and stream tokens are `<prefix>_<id>_<secret>`; only this hash of the whole credential is
 * stored. SHA-256 (not a slow KDF) is right here: the secrets are 32 random bytes, not human passwords.
 */
export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

/** A new credential: `tdk_<id>_<secret>` for API keys, `tds_<id>_<secret>` for stream tokens. */
export function newCredential(kind: 'api_key' | 'stream_token'): {
  id: string;
  credential: string;
  prefix: string;
} {
  const id = randomBytes(9).toString('base64url');
  const prefix = `${kind === 'api_key' ? 'tdk' : 'tds'}_${id}`;
  return {
    id: `${kind === 'api_key' ? 'key' : 'stk'}_${id}`,
    prefix,
    credential: `${prefix}_${randomBytes(32).toString('base64url')}`,
  };
}
