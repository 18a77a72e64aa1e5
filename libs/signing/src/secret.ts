import { randomBytes } from 'node:crypto';

export class InvalidSecretError extends Error {
  constructor(reason: string) {
    super(`invalid webhook secret: ${reason}`);
    this.name = 'InvalidSecretError';
  }
}

const PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new Standard Webhooks secret: `whsec_` + base64 of `bytes` random bytes (24–64; 32 by default). */
export function generateSecret(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64)
    throw new RangeError('secret length must be 24–64 bytes');
  return PREFIX + randomBytes(bytes).toString('base64');
}

/**
 * The HMAC key of a secret. Accepts `whsec_<base64>` and, for interop with libraries that strip the prefix,
 * bare base64. Rejects what is clearly malformed: empty, not base64, or shorter than 16 bytes (the
 * official libraries accept any length; a shorter key would be too weak to sign with).
 */
export function parseSecret(secret: string): Buffer {
  const body = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (body.length === 0) throw new InvalidSecretError('empty');
  if (body.length % 4 !== 0 || !BASE64.test(body)) throw new InvalidSecretError('not base64');
  const key = Buffer.from(body, 'base64');
  if (key.length < 16 || key.length > 128)
    throw new InvalidSecretError(`key is ${key.length} bytes; expected 16–128`);
  return key;
}
