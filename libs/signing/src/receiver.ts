import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyPayload, WebhookVerificationError, type VerificationFailure } from './signature';

export interface VerifiedWebhook {
  /** `webhook-id`: the event id. Dedupe on it; retries and replays carry the same id. */
  id: string;
  /** `webhook-timestamp`, unix seconds. */
  timestamp: number;
  /** The JSON body, parsed only after the signature over its raw bytes was verified. */
  payload: unknown;
  rawBody: Buffer;
}

/** The request as the middleware sees it: Node's, plus what Express/Nest body handling may have added. */
export type WebhookRequest = IncomingMessage & {
  rawBody?: Buffer;
  body?: unknown;
  webhook?: VerifiedWebhook;
};
export type WebhookNext = (err?: unknown) => void;

export interface WebhookReceiverOptions {
  /** Every currently valid `whsec_…` secret (two during a rotation). */
  secrets: string[];
  /** Allowed clock distance in seconds, both ways (default 300). */
  toleranceSeconds?: number;
  /** Largest body read; bigger requests get 413 unread (default 1 MiB). */
  maxBodyBytes?: number;
}

export type ReceiverFailure = VerificationFailure | 'malformed_body' | 'body_too_large';

// 1 MiB: far above any Tidings event; bounds what an unauthenticated sender can make us buffer.
const DEFAULT_MAX_BODY_BYTES = 1 << 20;

class BodyTooLargeError extends Error {}

class BodyAlreadyParsedError extends Error {
  constructor() {
    super(
      'webhookReceiver: the request body was already parsed and its raw bytes are gone. Mount the receiver ' +
        'before express.json(), use express.raw({ type: "application/json" }), or create the Nest app with ' +
        '{ rawBody: true }.',
    );
  }
}

function readRaw(req: WebhookRequest, max: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) return Promise.resolve(req.rawBody);
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  // A parser already consumed the stream: waiting for 'end' would hang, and re-serialising would not match.
  if (req.readableEnded) return Promise.reject(new BodyAlreadyParsedError());
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume(); // discard unread, so the 413 can still be written
    return Promise.reject(new BodyTooLargeError());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume(); // drain and discard, so the 413 can still be written
        reject(new BodyTooLargeError());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function problem(res: ServerResponse, status: 400 | 413, kind: ReceiverFailure, detail: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/problem+json');
  res.end(
    JSON.stringify({
      type: 'about:blank',
      title: status === 413 ? 'Webhook body too large' : 'Invalid webhook',
      status,
      detail: kind,
      kind,
      message: detail,
    }),
  );
}

/**
 * Express/Connect/Nest middleware for webhook subscribers. Reads the raw body (or takes it from
 * `req.rawBody` / a Buffer `req.body` from `express.raw()`), verifies the Standard Webhooks signature
 * against any of `secrets`, then parses the JSON and sets `req.webhook`. Failures answer
 * `400 application/problem+json` (`413` for oversized bodies) with `detail` = the failure kind and never
 * reach your handler. A body already parsed by `express.json()` is a setup error passed to `next(err)`.
 */
export function webhookReceiver(opts: WebhookReceiverOptions) {
  if (opts.secrets.length === 0) throw new Error('webhookReceiver needs at least one secret');
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return (req: WebhookRequest, res: ServerResponse, next: WebhookNext): void => {
    readRaw(req, max).then(
      (raw) => {
        let verified: { id: string; timestamp: number };
        try {
          verified = verifyPayload({
            body: raw,
            headers: req.headers,
            secrets: opts.secrets,
            toleranceSeconds: opts.toleranceSeconds,
          });
        } catch (error) {
          if (!(error instanceof WebhookVerificationError)) return next(error);
          return problem(res, 400, error.kind, error.message);
        }
        let payload: unknown;
        try {
          payload = JSON.parse(raw.toString('utf8'));
        } catch {
          return problem(res, 400, 'malformed_body', 'the signed body is not JSON');
        }
        req.webhook = { ...verified, payload, rawBody: raw };
        next();
      },
      (error: unknown) => {
        if (error instanceof BodyTooLargeError) {
          problem(res, 413, 'body_too_large', `the body exceeds ${max} bytes`);
        } else next(error);
      },
    );
  };
}
