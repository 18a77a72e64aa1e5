import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseSecret } from './secret';

// A type alias (not an interface) so it is assignable to plain header records.
export type SignedHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

function sign(key: Buffer, id: string, timestamp: number, body: string | Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/**
 * Standard Webhooks signature headers for exactly `body` — the caller must send these same bytes. With
 * several secrets (rotation), one `v1,<sig>` per secret, space-separated; receivers accept any one.
 */
export function signPayload(input: {
  id: string;
  timestamp: number;
  body: string;
  secrets: string[];
}): SignedHeaders {
  if (input.secrets.length === 0) throw new Error('at least one secret is required to sign');
  if (!Number.isInteger(input.timestamp)) throw new Error('timestamp must be integer unix seconds');
  const signatures = input.secrets.map(
    (s) => `v1,${sign(parseSecret(s), input.id, input.timestamp, input.body).toString('base64')}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatures.join(' '),
  };
}

export type VerificationFailure =
  'missing_header' | 'malformed_header' | 'invalid_signature' | 'timestamp_too_old' | 'timestamp_too_new';

export class WebhookVerificationError extends Error {
  constructor(
    readonly kind: VerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

type Headers = Record<string, string | string[] | undefined>;

function headerOf(headers: Headers, name: string): string | undefined {
  const direct = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(direct) ? direct[0] : direct;
}

// `svix-*` are the same headers under Svix's older names; the official libraries accept both.
const standardOrSvix = (headers: Headers, name: 'id' | 'timestamp' | 'signature') =>
  headerOf(headers, `webhook-${name}`) ?? headerOf(headers, `svix-${name}`);

// Five minutes both ways: the Standard Webhooks default, enough for clock skew and slow queues.
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Verifies a Standard Webhooks request against the RAW body. Constant-time comparison; any one valid `v1`
 * signature among several is accepted (rotation); other versions are ignored. Throws
 * `WebhookVerificationError` with a `kind` saying exactly what was wrong.
 */
export function verifyPayload(input: {
  body: string | Buffer;
  headers: Headers;
  secrets: string[];
  toleranceSeconds?: number;
  now?: number;
}): { id: string; timestamp: number } {
  const id = standardOrSvix(input.headers, 'id');
  const ts = standardOrSvix(input.headers, 'timestamp');
  const sig = standardOrSvix(input.headers, 'signature');
  if (!id || !ts || !sig) {
    const missing = Object.entries({ id, timestamp: ts, signature: sig }).filter(([, v]) => !v);
    throw new WebhookVerificationError(
      'missing_header',
      `missing ${missing.map(([name]) => `webhook-${name}`).join(', ')} header`,
    );
  }
  if (!/^\d{1,12}$/.test(ts))
    throw new WebhookVerificationError('malformed_header', 'webhook-timestamp must be unix seconds');
  const timestamp = Number(ts);
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (timestamp < now - tolerance)
    throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp is too old');
  if (timestamp > now + tolerance)
    throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp is in the future');
  const candidates = sig
    .split(/\s+/)
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  if (candidates.length === 0)
    throw new WebhookVerificationError('malformed_header', 'no v1 signature in webhook-signature');
  for (const secret of input.secrets) {
    const expected = sign(parseSecret(secret), id, timestamp, input.body);
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected)))
      return { id, timestamp };
  }
  throw new WebhookVerificationError('invalid_signature', 'no signature matches');
}
