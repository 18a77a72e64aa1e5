import { Inject, Injectable } from '@nestjs/common';
import { E2E_LATENCY_BUCKETS, METRICS_REGISTRY } from '@tidings/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DataSource } from 'typeorm';

export type AttemptOutcome = 'succeeded' | 'failed' | 'dead';

/** The dispatcher's Prometheus metrics: attempts, the lifecycle's transitions, the retry and dead-letter queues. */
@Injectable()
export class DeliveryMetrics {
  readonly deliveries: Counter<'outcome'>;
  readonly attemptDuration: Histogram<'outcome'>;
  readonly deadLetters: Counter<'reason'>;
  readonly subscriptionsDisabled: Counter<'reason'>;
  readonly subscriptionsFailing: Counter;
  readonly deadLettersPublished: Counter;
  readonly recorded: Counter<'path'>;
  readonly commitToDelivered: Histogram;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, ds: DataSource) {
    this.commitToDelivered = new Histogram({
      name: 'tidings_webhook_commit_to_delivered_seconds',
      help: "From an event's commit (its timestamp) to the receiver's 2xx, per delivery (retries included)",
      buckets: E2E_LATENCY_BUCKETS,
      registers: [registry],
    });
    this.deliveries = new Counter({
      name: 'tidings_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (succeeded, failed = will retry, dead = schedule exhausted)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.attemptDuration = new Histogram({
      name: 'tidings_webhook_attempt_duration_seconds',
      help: 'Duration of one webhook HTTP attempt, connect to last byte read',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'tidings_webhook_dead_letters_total',
      help: 'Deliveries dead-lettered, by reason (retries_exhausted, subscription_disabled)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.deadLettersPublished = new Counter({
      name: 'tidings_webhook_dead_letters_published_total',
      help: 'Dead letters put on the dead-letter topic',
      registers: [registry],
    });
    this.subscriptionsDisabled = new Counter({
      name: 'tidings_webhook_subscriptions_disabled_total',
      help: 'Subscriptions disabled by the dispatcher, by reason (consecutive_failures, gone)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.subscriptionsFailing = new Counter({
      name: 'tidings_webhook_subscriptions_failing_total',
      help: 'Failing streaks warned about (webhook.subscription.failing; once per streak)',
      registers: [registry],
    });
    new Gauge({
      name: 'tidings_webhook_subscriptions',
      help: 'Event subscriptions (not deleted) by status',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const rows = await ds.query<{ status: string; n: number }[]>(
          `SELECT status, count(*)::int AS n FROM webhook_subscriptions
           WHERE deleted_at IS NULL AND kind = 'endpoint' GROUP BY status`,
        );
        this.reset();
        for (const status of ['active', 'disabled'])
          this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
      },
    });
    new Gauge({
      name: 'tidings_webhook_dead_letters_unpublished',
      help: 'Dead letters not yet on the dead-letter topic (grows while the broker is unreachable)',
      registers: [registry],
      async collect() {
        const [row] = await ds.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'dead' AND dlq_published_at IS NULL`,
        );
        this.set(row?.n ?? 0);
      },
    });
    this.recorded = new Counter({
      name: 'tidings_webhook_deliveries_recorded_total',
      help:
        'Delivery rows created from consumed events (one per matching subscription and event), by path: ' +
        'direct = sent at once by the recording process, claimed = left due for the claim loop',
      labelNames: ['path'],
      registers: [registry],
    });
    new Gauge({
      name: 'tidings_webhook_retry_queue_depth',
      help: 'Deliveries waiting for a retry (status failed)',
      registers: [registry],
      async collect() {
        const [row] = await ds.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'failed'`,
        );
        this.set(row?.n ?? 0);
      },
    });
  }
}
