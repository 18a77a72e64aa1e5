import { createHash, randomBytes } from 'node:crypto';
import { API_KEY_SCOPES, type ApiKeyScope } from './entities/api-key.entity';

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

/** The scope a route needs unless it declares its own: reading (GET, HEAD) needs `read`, anything else `write`. */
export function defaultScope(method: string): ApiKeyScope {
  return ['GET', 'HEAD'].includes(method.toUpperCase()) ? 'read' : 'write';
}

/** Whether a key with these scopes may do what `required` allows. Scopes nest: admin ⊇ write ⊇ read. */
export function grantsScope(scopes: readonly ApiKeyScope[], required: ApiKeyScope): boolean {
  const rank = (scope: ApiKeyScope) => API_KEY_SCOPES.indexOf(scope);
  return scopes.some((scope) => rank(scope) >= rank(required));
}
