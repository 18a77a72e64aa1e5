import { z } from 'zod';

/**
 * The variables of the per-subscription concurrency rule: the api validates a subscription's `maxInFlight`
 * against the limit (and shows the default for a subscription that sets none), the dispatcher applies both.
 */
export const webhooksConfigSchema = z.object({
  // 16 per subscription unless the subscription sets its own `maxInFlight`: one slow or hanging endpoint can
  // hold at most a quarter of a process's 64 sending slots, so healthy endpoints keep flowing, while one busy
  // endpoint that answers in ~15 ms still takes 1,000 events/s on a quiet machine (docs/benchmarks.md: at 4, a
  // single subscription topped out near 350 events/s on 2 cores).
  WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: z.coerce.number().int().min(1).max(1_000).default(16),
  // 48 at most for any one subscription: what one endpoint needed to take 1,000 events/s on 2 cores with the CPU
  // saturated (docs/benchmarks.md, "Commit → webhook"), while a subscription at the maximum that hangs still
  // leaves a quarter of a process's 64 sending slots (WEBHOOK_WORKER_CONCURRENCY) to every other endpoint.
  // Lowering it later clamps subscriptions that asked for more; it never rewrites them.
  WEBHOOK_MAX_IN_FLIGHT_LIMIT: z.coerce.number().int().min(1).max(1_000).default(48),
});

export type WebhooksConfig = z.infer<typeof webhooksConfigSchema>;
