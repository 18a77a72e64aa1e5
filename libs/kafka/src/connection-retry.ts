import { setTimeout as sleep } from 'node:timers/promises';
import { nextBackoff } from './consumer-rule';

/**
 * Waits between attempts to reach the broker: 500 ms first (a broker restarting answers within a second or
 * two), doubling up to 10 s, so an app waiting out a long outage costs the broker one attempt per 10 s and
 * resumes within 10 s of its return. Each attempt itself already retries inside kafkajs (client `retry`).
 */
export const DEFAULT_CONNECT_RETRY = { initialMs: 500, maxMs: 10_000 };

export type RetryLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface KeepConnectedOptions {
  /** Named in every log line: `Kafka consumer <group>`, `Kafka producer`. */
  what: string;
  retry?: { initialMs: number; maxMs: number };
  /** Aborting ends the loop: a pending wait returns at once and no new session starts. */
  signal: AbortSignal;
  log: RetryLog;
  /**
   * One session: connect, call `connected()` once the connection is usable, then resolve when it is lost or
   * closed. Throwing (cannot connect, or lost with an error) counts as a failed session.
   */
  session(connected: () => void): Promise<void>;
}

/**
 * Runs broker sessions one after another until `signal` aborts, so an app can boot while the broker is down
 * and survive its later outages. After a session that fails or ends, waits the capped exponential backoff of
 * `retry` (doubling; back to the first delay once a session has connected) and logs each retry at warn with
 * its delay (`retryInMs`). Never rejects.
 */
export async function keepConnected(options: KeepConnectedOptions): Promise<void> {
  const retry = options.retry ?? DEFAULT_CONNECT_RETRY;
  let delay: number | undefined;
  while (!options.signal.aborted) {
    let error: unknown;
    try {
      await options.session(() => {
        delay = undefined;
      });
    } catch (e) {
      error = e;
    }
    if (options.signal.aborted) return;
    delay = nextBackoff(delay, retry);
    options.log('warn', `${options.what} not connected; retrying in ${delay} ms`, {
      retryInMs: delay,
      ...(error === undefined ? { reason: 'connection closed' } : { error: messageOf(error) }),
    });
    await sleep(delay, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One connection shared by its callers: `get()` returns the connected value, or the attempt in flight
 * (starting one when there is none); a failed attempt is forgotten, so the next `get()` tries again.
 * `drop()` forgets the current one and closes it: at once when connected, whenever it settles when still
 * connecting (a shutdown must not sit out the retries of an attempt at a broker that is down).
 */
export class SharedConnection<T> {
  private attempt?: Promise<T>;
  private value?: T;

  constructor(
    private readonly connect: () => Promise<T>,
    private readonly close: (value: T) => Promise<void>,
  ) {}

  /** The connected value; undefined while none is (readiness). */
  get connected(): T | undefined {
    return this.value;
  }

  get(): Promise<T> {
    if (this.attempt) return this.attempt;
    const attempt: Promise<T> = this.connect().then(
      (value) => {
        if (this.attempt === attempt) this.value = value;
        return value;
      },
      (error: unknown) => {
        if (this.attempt === attempt) this.attempt = undefined;
        throw error;
      },
    );
    this.attempt = attempt;
    return attempt;
  }

  async drop(): Promise<void> {
    const { attempt, value } = this;
    this.attempt = undefined;
    this.value = undefined;
    if (value !== undefined) await this.close(value).catch(() => undefined);
    else void attempt?.then((v) => this.close(v)).catch(() => undefined);
  }
}
