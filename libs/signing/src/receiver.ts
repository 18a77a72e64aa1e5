import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyPayload, WebhookVerificationError } from './signature';

export interface VerifiedWebhook {
  id: string;
  timestamp: number;
  payload: unknown;
  rawBody: Buffer;
}

type Req = IncomingMessage & { rawBody?: Buffer; body?: unknown; webhook?: VerifiedWebhook };

// 1 MiB: far above any Tidings event; bounds what an unauthenticated sender can make us buffer.
const MAX_BODY_BYTES = 1 << 20;

function readRaw(req: Req): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) return Promise.resolve(req.rawBody);
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Express/Connect-style middleware for subscribers: reads the raw body (or uses `req.rawBody` / a Buffer
 * `req.body` from `express.raw()`), verifies it, and sets `req.webhook`. Failures answer 400 with a JSON
 * problem; never parse JSON before verifying — re-serialised JSON would not match the signature.
 */
export function webhookReceiver(opts: { secrets: string[]; toleranceSeconds?: number }) {
  return (req: Req, res: ServerResponse, next: (err?: unknown) => void): void => {
    readRaw(req).then(
      (raw) => {
        try {
          const { id, timestamp } = verifyPayload({
            body: raw,
            headers: req.headers,
            secrets: opts.secrets,
            toleranceSeconds: opts.toleranceSeconds,
          });
          req.webhook = { id, timestamp, payload: JSON.parse(raw.toString('utf8')), rawBody: raw };
          next();
        } catch (error) {
          const kind = error instanceof WebhookVerificationError ? error.kind : 'malformed_body';
          res.statusCode = 400;
          res.setHeader('content-type', 'application/problem+json');
          res.end(
            JSON.stringify({ type: 'about:blank', title: 'Invalid webhook', status: 400, detail: kind }),
          );
        }
      },
      (error: unknown) => next(error),
    );
  };
}
