import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ForbiddenAddressError, guardedConnector } from '@tidings/egress';
import { APP_CONFIG } from '@tidings/runtime';
import { Agent, request } from 'undici';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';

export interface SendResult {
  /** The HTTP status, when a response arrived. */
  statusCode: number | null;
  durationMs: number;
  /** The first WEBHOOK_RESPONSE_BODY_LIMIT_BYTES of the response body, as text. */
  responseBody: string | null;
  /** Why no usable response arrived (timeout, refused by the SSRF guard, connection error). */
  error: string | null;
  /** `Retry-After` of a 429/503, in ms from now. */
  retryAfterMs: number | null;
}

/** `Retry-After` as delay-seconds or an HTTP-date → ms from `now`; null when absent or malformed. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

const describe = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof ForbiddenAddressError) return error.message;
  if (cause instanceof ForbiddenAddressError) return cause.message;
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
};

/**
 * One HTTP POST of already-signed bytes. Redirects are never followed (undici's `request` does not follow
 * them; a 3xx is a failure), every connection goes through the SSRF guard (IP literals, every resolved
 * address, the connected peer), the whole attempt is bounded by WEBHOOK_TIMEOUT_MS and the response body
 * read is capped: the rest is discarded unread.
 */
@Injectable()
export class DeliverySender implements OnApplicationShutdown {
  private readonly agent: Agent;

  constructor(@Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig) {
    this.agent = new Agent({
      connect: guardedConnector({
        connectTimeoutMs: Math.min(config.WEBHOOK_CONNECT_TIMEOUT_MS, config.WEBHOOK_TIMEOUT_MS),
        allowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
      }),
      headersTimeout: config.WEBHOOK_TIMEOUT_MS,
      bodyTimeout: config.WEBHOOK_TIMEOUT_MS,
      // Idle receivers' sockets are dropped quickly: thousands of endpoints must not pin file descriptors.
      keepAliveTimeout: 4_000,
    });
  }

  async send(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const limit = this.config.WEBHOOK_RESPONSE_BODY_LIMIT_BYTES;
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error(`timed out after ${this.config.WEBHOOK_TIMEOUT_MS} ms`)),
      this.config.WEBHOOK_TIMEOUT_MS,
    );
    let statusCode: number | null = null;
    let retryAfterMs: number | null = null;
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: timeout.signal,
      });
      statusCode = res.statusCode;
      retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = limit - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= limit) break;
      }
      // Breaking out of the iterator destroys the stream: the rest of a huge body is never read.
      if (!res.body.destroyed) res.body.destroy();
      return {
        statusCode,
        durationMs: elapsed(),
        responseBody: Buffer.concat(chunks).toString('utf8'),
        error: null,
        retryAfterMs,
      };
    } catch (error) {
      const reason = timeout.signal.aborted ? (timeout.signal.reason as Error).message : describe(error);
      return { statusCode, durationMs: elapsed(), responseBody: null, error: reason, retryAfterMs };
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }
}
