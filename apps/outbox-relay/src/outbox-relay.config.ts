import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const FAULT_POINTS = ['before-position-commit', 'after-position-commit', 'after-produce'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** `<point>:<n>`: SIGKILL the process the n-th time the relay reaches `point` (crash tests only). */
const faultInjection = z
  .string()
  .regex(
    new RegExp(`^(${FAULT_POINTS.join('|')}):[1-9][0-9]*$`),
    `RELAY_FAULT_INJECTION must be <point>:<n> with point one of ${FAULT_POINTS.join(', ')}`,
  )
  .transform((s) => {
    const [point, n] = s.split(':');
    return { point: point as FaultPoint, nth: Number(n) };
  })
  .optional();

export const relayConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    RELAY_PORT: port(3002),
    // 2,000 events per batch: measured best on the 2-core dev machine (docs/benchmarks.md, "Relay drain"):
    // round trips and commits are amortised. It counts events only: the producer cuts a batch into as many
    // produce requests as the byte limits the broker reports for each topic require (Producer.pack), so
    // large events cost more requests, never a refused batch.
    RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(2_000),
    // Lanes: batches of this many shards run at once, each lane with its own sequencing connection and
    // producer, so a shard with a few events waits for no other shard's batch (docs/architecture.md, "Fair
    // within a relay"). One per core, at least two (one for a burst, one for everyone else): on two cores four
    // lanes cost the relay 0.073–0.089 ms of CPU per event against 0.056–0.064 for one or two, for no drain rate
    // beyond the noise (docs/benchmarks.md, "Lanes"). Each lane loads and marks on the pool: bound below.
    RELAY_LANES: z.coerce
      .number()
      .int()
      .min(1)
      .max(64)
      .default(() => Math.min(8, Math.max(2, availableParallelism()))),
    // 10 min: a parked event waits for an operator to raise the broker's limit; retrying it costs one send
    // per parked event, and a relay restart retries at once.
    RELAY_PARKED_RETRY_MS: z.coerce.number().int().min(100).max(86_400_000).default(600_000),
    // 100 ms between idle probes: a commit that appended events wakes the relay at once (NOTIFY, see
    // OutboxWakeups), so this only bounds the wait for a lost notification or while the listener reconnects.
    // It was 5 ms when polling was the only wake-up: 200 probes/s cost an idle relay and its Postgres backend
    // 130 ms of CPU per second (docs/benchmarks.md, "Idle cost").
    RELAY_IDLE_POLL_MS: z.coerce.number().int().min(1).max(60_000).default(100),
    // 1 s: each relay renews its shard leases, heartbeats, and takes or gives back shards toward its fair share
    // (docs/architecture.md, "Shards") once a second.
    RELAY_SHARD_RENEW_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    // 5 s: a relay that stops renewing (killed, cut off from Postgres) loses its shards this long after its
    // last renewal, and the others take them over then. At least 3 renewals long, so one slow renewal never
    // costs a lease.
    RELAY_SHARD_LEASE_MS: z.coerce.number().int().min(30).max(600_000).default(5_000),
    // Backoff after a failed cycle (Kafka or Postgres down) doubles up to this: no busy loop, quick recovery.
    RELAY_ERROR_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(60_000).default(5_000),
    // 60 min of published bookkeeping kept for inspection; the event log itself is permanent.
    RELAY_RETENTION_MINUTES: z.coerce.number().min(0).max(525_600).default(60),
    // Retention sweeps once a minute; each sweep deletes in bounded chunks so it never holds long locks.
    RELAY_RETENTION_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    // Backlog gauges are refreshed every 5 s: cheap index probes, fresh enough for alerting.
    RELAY_BACKLOG_REFRESH_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    // After a drain of 10,000+ events the leader vacuums outbox once the backlog is empty, so idle probes stop
    // walking the dead index entries the drain left (0 turns it off and leaves it to autovacuum).
    RELAY_VACUUM_AFTER_EVENTS: z.coerce.number().int().min(0).default(10_000),
    // Crash-test hook; refused at boot unless NODE_ENV=test, so production can never enable it by accident.
    RELAY_FAULT_INJECTION: faultInjection,
    NODE_ENV: z.string().optional(),
  })
  .refine((c) => c.RELAY_SHARD_LEASE_MS >= 3 * c.RELAY_SHARD_RENEW_MS, {
    message: 'RELAY_SHARD_LEASE_MS must be at least 3 × RELAY_SHARD_RENEW_MS',
    path: ['RELAY_SHARD_LEASE_MS'],
  })
  .refine((c) => c.RELAY_LANES <= c.DB_POOL_SIZE - 2, {
    // The pool also serves the lease renewals and housekeeping.
    message: 'RELAY_LANES must be at most DB_POOL_SIZE - 2 (each lane loads and marks on the pool)',
    path: ['RELAY_LANES'],
  })
  .refine((c) => c.RELAY_FAULT_INJECTION === undefined || c.NODE_ENV === 'test', {
    message: 'RELAY_FAULT_INJECTION is only honoured with NODE_ENV=test',
    path: ['RELAY_FAULT_INJECTION'],
  });

export type OutboxRelayConfig = z.infer<typeof relayConfigSchema>;
