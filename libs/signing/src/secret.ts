import { randomBytes } from 'node:crypto';

export class InvalidSecretError extends Error {
  constructor(reason: string) {
    super(`invalid webhook secret: ${reason}`);
    this.name = 'InvalidSecretError';
  }
}

const PREFIX = 'whsec_';
// Standard base64, padding optional (some generators drop it).
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Below 16 bytes an HMAC key is too weak to trust; above 128 is no Standard Webhooks secret anyone issues.
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 128;

/** A new Standard Webhooks secret: `whsec_` + base64 of `bytes` random bytes (24–64; 32 by default). */
export function generateSecret(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64)
    throw new RangeError('secret length must be 24–64 bytes');
  return PREFIX + randomBytes(bytes).toString('base64');
}

/**
 * The HMAC key of a secret. Accepts `whsec_<base64>` and, for interop with libraries that strip the prefix,
 * bare base64 (padding optional). Rejects with `InvalidSecretError` only what is clearly malformed: empty,
 * not base64 (including base64url and whitespace), or a key outside 16–128 bytes. The official libraries
 * accept any length; we generate 24–64 bytes and refuse keys too short to be a real secret.
 */
export function parseSecret(secret: string): Buffer {
  const body = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (body.length === 0) throw new InvalidSecretError('empty');
  const unpadded = body.replace(/=+$/, '');
  if (!BASE64.test(body) || unpadded.length % 4 === 1 || (body !== unpadded && body.length % 4 !== 0)) {
    throw new InvalidSecretError('not base64');
  }
  const key = Buffer.from(body, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new InvalidSecretError(`key is ${key.length} bytes; expected ${MIN_KEY_BYTES}–${MAX_KEY_BYTES}`);
  }
  return key;
}
