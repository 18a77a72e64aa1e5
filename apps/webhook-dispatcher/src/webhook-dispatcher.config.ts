import { dbConfigSchema } from '@tidings/db';
import { egressConfigSchema } from '@tidings/egress';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import { webhooksConfigSchema } from '@tidings/webhooks';
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `30s`, `5m`, `2h`, `1d` → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  return match ? Math.round(Number(match[1]) * UNITS[match[2]]) : undefined;
}

// 1m, 5m, 30m, 2h, 24h after each failed attempt (6 attempts over ~26.5 h): quick retries absorb blips and
// deploys, the long tail means a receiver that is down for a whole day still gets every event before it is
// dead-lettered. Tests compress it (e.g. `50ms,100ms,150ms`).
export const DEFAULT_RETRY_SCHEDULE = '1m,5m,30m,2h,24h';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 250ms, 30s, 5m, 2h or 1d' });
        return z.NEVER;
      }
      return ms;
    });

const retrySchedule = z
  .string()
  .default(DEFAULT_RETRY_SCHEDULE)
  .transform((text, ctx) => {
    const parts = text.split(',').map((p) => p.trim());
    const delays = parts.map(parseDuration);
    if (parts.length === 0 || delays.some((d) => d === undefined || d <= 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated durations like 1m,5m,30m,2h,24h' });
      return z.NEVER;
    }
    return delays as number[];
  });

export const dispatcherConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend(egressConfigSchema.shape)
  .extend(webhooksConfigSchema.shape)
  .extend({
    DISPATCHER_PORT: port(3003),
    WEBHOOK_RETRY_SCHEDULE: retrySchedule,
    // ±10 %: spreads the retries of many deliveries that failed together (an outage) so they don't return
    // as one thundering herd, while keeping the published table accurate to the minute.
    WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(0.5).default(0.1),
    // 15 s total (connect, headers and body): receivers are told to answer quickly and do work async;
    // anything slower is treated as a failure and retried rather than holding a worker slot.
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(15_000),
    // 5 s to connect (TCP + TLS): a healthy endpoint connects in milliseconds; a black-holed one must not eat
    // the whole budget.
    WEBHOOK_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
    // 64 KiB of response body kept for the delivery log: enough for any error page's gist, bounded storage.
    WEBHOOK_RESPONSE_BODY_LIMIT_BYTES: z.coerce.number().int().min(0).max(1_048_576).default(65_536),
    // 24 h: honour Retry-After up to the longest step of the schedule, never a week-long silence.
    WEBHOOK_RETRY_AFTER_MAX_MS: z.coerce.number().int().min(0).default(86_400_000),
    // 64 concurrent POSTs per process: saturates two cores on fast receivers without exhausting sockets.
    WEBHOOK_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(64),
    // The idle poll backs off to this; new deliveries recorded in this process wake the loop at once, so it
    // only bounds the latency of retries and of deliveries recorded by another replica.
    WEBHOOK_POLL_MAX_MS: z.coerce.number().int().min(5).max(10_000).default(500),
    // A delivery held by a process is leased for 2 × timeout (waiting behind its subscription's in-flight
    // requests, then its own attempt) + this margin; if the process dies the lease expires and another worker
    // sends it again (at-least-once). 10 s covers recording the outcome.
    WEBHOOK_LEASE_MARGIN_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
    // Tests compress the default schedule by this factor (e.g. 0.0001: 24 h → 8.6 s) instead of replacing it,
    // so the rules run with their real number of attempts. Production leaves it at 1.
    WEBHOOK_RETRY_TIME_SCALE: z.coerce.number().gt(0).max(1).default(1),
    // Warn once per failing streak when the endpoint has answered only failures for 5 minutes (past its first two
    // retries) and at least 3 times: the tenant hears of real trouble minutes in, long before anything is switched
    // off, while a restart or an endpoint failing now and then never raises it. Scaled by the time scale.
    WEBHOOK_FAILING_WARNING_AT: z.coerce.number().int().min(1).default(3),
    WEBHOOK_FAILING_WARNING_AFTER: duration('5m'),
    // Disable after 5 deliveries dead-lettered in a row with no success answered in between: under the default
    // schedule that is an endpoint failing for about a day (each delivery fails 6 times over ~26.5 h), never a
    // burst of concurrent first attempts during a restart.
    WEBHOOK_DISABLE_AFTER_DEAD_LETTERS: z.coerce.number().int().min(1).default(5),
    // 1 s: how often a tenant's subscription list is refreshed for admission to the fast path. Matching itself
    // is exact (done in the recording statement); a stale list only sends a delivery by the slower claim path.
    WEBHOOK_SUBSCRIPTION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  });

export type WebhookDispatcherConfig = z.infer<typeof dispatcherConfigSchema>;
