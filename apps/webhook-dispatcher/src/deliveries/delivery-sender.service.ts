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

/** Whose request this is: its keep-alive pool is the subscription's, sized to its concurrency. */
export interface SendTarget {
  subscriptionId: string;
  maxInFlight: number;
}

/** A subscription's connections: per origin (an Agent keeps one pool per origin), at most `size` each. */
interface SubscriptionPool {
  agent: Agent;
  size: number;
  open: number;
  lastUsedAt: number;
}

// Idle receivers' sockets are dropped after 4 s: thousands of endpoints must not pin file descriptors.
const KEEP_ALIVE_MS = 4_000;
// A subscription's pool unused this long holds no socket (they closed at KEEP_ALIVE_MS): drop the object too,
// so deleted and quiet subscriptions cost nothing. Checked at most this often, on a send.
const POOL_IDLE_MS = 60_000;

/**
 * One HTTP POST of already-signed bytes. Redirects are never followed (undici's `request` does not follow
 * them; a 3xx is a failure), every connection goes through the SSRF guard (IP literals, every resolved
 * address, the connected peer), the whole attempt is bounded by WEBHOOK_TIMEOUT_MS and the response body
 * read is capped: the rest is discarded unread.
 *
 * Connections are kept alive per subscription and origin, at most the subscription's maxInFlight of them: the
 * worker never has more of its requests open, so a request never waits for a socket, and the sockets one
 * endpoint may hold are bounded by its own setting. Two subscriptions to the same origin have separate pools,
 * so one's slow answers never queue the other's requests (the origin sees up to the sum of their settings).
 */
@Injectable()
export class DeliverySender implements OnApplicationShutdown {
  private readonly pools = new Map<string, SubscriptionPool>();
  private readonly connect: ReturnType<typeof guardedConnector>;
  private sweptAt = Date.now();

  constructor(@Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig) {
    this.connect = guardedConnector({
      connectTimeoutMs: Math.min(config.WEBHOOK_CONNECT_TIMEOUT_MS, config.WEBHOOK_TIMEOUT_MS),
      allowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
    });
  }

  async send(
    target: SendTarget,
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<SendResult> {
    const pool = this.poolOf(target);
    pool.open += 1;
    try {
      return await this.post(pool.agent, url, body, headers);
    } finally {
      pool.open -= 1;
      pool.lastUsedAt = Date.now();
    }
  }

  /** The subscription's pool, a new one when its maxInFlight changed (the old one closes once its requests end). */
  private poolOf({ subscriptionId, maxInFlight }: SendTarget): SubscriptionPool {
    const now = Date.now();
    if (now - this.sweptAt > POOL_IDLE_MS) this.sweep(now);
    let pool = this.pools.get(subscriptionId);
    if (pool && pool.size !== maxInFlight) {
      this.retire(pool);
      pool = undefined;
    }
    if (!pool) {
      pool = { agent: this.agent(maxInFlight), size: maxInFlight, open: 0, lastUsedAt: now };
      this.pools.set(subscriptionId, pool);
    }
    return pool;
  }

  private agent(connections: number): Agent {
    return new Agent({
      connect: this.connect,
      connections,
      headersTimeout: this.config.WEBHOOK_TIMEOUT_MS,
      bodyTimeout: this.config.WEBHOOK_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_MS,
    });
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [id, pool] of this.pools)
      if (pool.open === 0 && now - pool.lastUsedAt > POOL_IDLE_MS) {
        this.pools.delete(id);
        this.retire(pool);
      }
  }

  /** Closes a pool without cutting what it still sends: `close()` lets running requests finish. */
  private retire(pool: SubscriptionPool): void {
    pool.agent.close().catch(() => undefined);
  }

  private async post(
    agent: Agent,
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<SendResult> {
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
        dispatcher: agent,
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
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.agent.close()));
  }
}
