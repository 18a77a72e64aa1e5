import { Inject, Injectable, Logger } from '@nestjs/common';
import { appendEvent, transaction, type Tx } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { type KafkaClient, platformTopics, type Producer } from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { type AttemptOutcome, DeliveryMetrics } from './delivery-metrics.service';
import type { SendResult } from './delivery-sender.service';

/** A delivery as claimed by the worker: what the outcome needs to know about it. */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  /** attempt_count at claim time: this attempt is number attemptCount + 1. */
  attemptCount: number;
}

export interface RetryPolicy {
  /** Delay after the n-th failed attempt (index n-1); past the end the delivery is dead. */
  schedule: number[];
  jitter: number;
  retryAfterMaxMs: number;
}

/**
 * When the next attempt is due after `failedAttempts` failures, or null when the schedule is exhausted.
 * Jitter spreads retries by ±`jitter`; a `Retry-After` (429/503) moves the attempt later, never earlier than
 * the schedule, and is capped at `retryAfterMaxMs`.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  failedAttempts: number,
  retryAfterMs: number | null,
  now = Date.now(),
  random = Math.random,
): Date | null {
  const base = policy.schedule[failedAttempts - 1];
  if (base === undefined) return null;
  const scheduled = base * (1 + policy.jitter * (2 * random() - 1));
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, policy.retryAfterMaxMs);
  return new Date(now + Math.max(scheduled, asked));
}

export const isSuccess = (r: SendResult) =>
  r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

// 1000 characters: what the operational events' schema allows, plenty for an error's gist.
const errorOf = (r: SendResult) =>
  (r.error ?? (r.statusCode === null ? 'no response' : `HTTP ${r.statusCode}`)).slice(0, 1000);

interface LockedSubscription {
  id: string;
  tenant_id: string;
  url: string;
  status: string;
  consecutive_failures: number;
  version: number;
}

const SOURCE = 'tidings/webhook-dispatcher';

interface PendingSuccess {
  delivery: ClaimedDelivery;
  result: SendResult;
  attemptedAt: Date;
  resolve(): void;
  reject(error: unknown): void;
}

// 500 outcomes per statement: one round trip carries a busy second's worth without an unwieldy statement.
const SUCCESS_BATCH = 500;

/**
 * Records what one attempt did. A failure is one transaction: the attempt row, the delivery's new state
 * (failed with its next attempt, or dead), the subscription's health under its row lock, and the operational
 * events (`webhook.subscription.failing`/`.disabled`, `webhook.delivery.exhausted`) through the outbox — each
 * one bumping the locked subscription's version and using it as the event's sequence.
 *
 * Successes — nearly every outcome — are group-committed: those that complete while a write is running are
 * written together by the next one, in one statement (attempt rows, deliveries succeeded, failure streaks of
 * their subscriptions reset), so a busy subscription's outcomes do not queue on its row lock. `record()`
 * resolves once its outcome is written either way; if a batch fails, each of its outcomes is written on its
 * own.
 */
@Injectable()
export class DeliveryOutcomes {
  private readonly logger = new Logger(DeliveryOutcomes.name);
  private producer?: Producer;
  private readonly policy: RetryPolicy;
  private successes: PendingSuccess[] = [];
  private flushing?: Promise<void>;

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    @Inject(KAFKA_CLIENT) private readonly kafka: KafkaClient,
    private readonly metrics: DeliveryMetrics,
  ) {
    this.policy = {
      schedule: config.WEBHOOK_RETRY_SCHEDULE,
      jitter: config.WEBHOOK_RETRY_JITTER,
      retryAfterMaxMs: config.WEBHOOK_RETRY_AFTER_MAX_MS,
    };
  }

  async start(): Promise<void> {
    this.producer = await this.kafka.createProducer();
  }

  async stop(): Promise<void> {
    await this.flushing;
    await this.producer?.disconnect();
    this.producer = undefined;
  }

  /** Records the attempt; resolves with when the next attempt is due (null: succeeded or dead). */
  async record(delivery: ClaimedDelivery, result: SendResult, attemptedAt: Date): Promise<Date | null> {
    if (!isSuccess(result)) return this.recordOne(delivery, result, attemptedAt);
    await new Promise<void>((resolve, reject) => {
      this.successes.push({ delivery, result, attemptedAt, resolve, reject });
      this.flushing ??= this.flushSuccesses();
    });
    return null;
  }

  private async flushSuccesses(): Promise<void> {
    // Let the outcomes that complete in this turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.successes.length > 0) {
      const batch = this.successes.splice(0, SUCCESS_BATCH);
      try {
        await this.writeSuccesses(batch);
        for (const s of batch) {
          this.countOutcome('succeeded', s.result);
          s.resolve();
        }
      } catch (error) {
        this.logger.warn(
          `batch of ${batch.length} successes not written (${error instanceof Error ? error.message : String(error)}); writing each on its own`,
        );
        await Promise.all(
          batch.map((s) =>
            this.recordOne(s.delivery, s.result, s.attemptedAt).then(() => s.resolve(), s.reject),
          ),
        );
      }
    }
    this.flushing = undefined;
  }

  /** One statement for many successful attempts: the same rows `recordOne` writes for each. */
  private async writeSuccesses(batch: PendingSuccess[]): Promise<void> {
    // One write at a time per process (flushSuccesses), and a delivery's row is only written by the process
    // holding its lease, so batches of different processes touch different delivery rows. If a deadlock ever
    // happens anyway, PostgreSQL aborts one statement and flushSuccesses writes its outcomes one by one.
    await this.ds.query(
      `WITH r AS (
         SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[])
                  AS r(id, attempt_count, attempted_at, status_code, duration_ms, response_body)
       ), attempts AS (
         INSERT INTO webhook_attempts (delivery_id, attempt_number, attempted_at, status_code, duration_ms,
                                       response_body)
         SELECT id, attempt_count + 1, attempted_at, status_code, duration_ms, response_body FROM r
       ), succeeded AS (
         UPDATE webhook_deliveries d
         SET status = 'succeeded', attempt_count = d.attempt_count + 1, next_attempt_at = NULL,
             last_attempt_at = r.attempted_at, last_status_code = r.status_code, last_error = NULL,
             updated_at = now()
         FROM r
         WHERE d.id = r.id AND d.attempt_count = r.attempt_count AND d.status IN ('pending', 'failed')
         RETURNING d.subscription_id
       )
       UPDATE webhook_subscriptions
       SET consecutive_failures = 0
       WHERE id IN (SELECT subscription_id FROM succeeded) AND consecutive_failures <> 0`,
      [
        batch.map((s) => s.delivery.id),
        batch.map((s) => s.delivery.attemptCount),
        batch.map((s) => s.attemptedAt),
        batch.map((s) => s.result.statusCode),
        batch.map((s) => s.result.durationMs),
        batch.map((s) => s.result.responseBody),
      ],
    );
  }

  private countOutcome(outcome: AttemptOutcome, result: SendResult): void {
    this.metrics.deliveries.inc({ outcome });
    this.metrics.attemptDuration.observe({ outcome }, result.durationMs / 1000);
  }

  private async recordOne(
    delivery: ClaimedDelivery,
    result: SendResult,
    attemptedAt: Date,
  ): Promise<Date | null> {
    const success = isSuccess(result);
    const attempt = delivery.attemptCount + 1;
    const next = success
      ? null
      : nextAttemptAt(
          this.policy,
          attempt,
          result.statusCode === 429 || result.statusCode === 503 ? result.retryAfterMs : null,
        );
    const outcome = success ? 'succeeded' : next === null ? 'dead' : 'failed';
    const disabled = await transaction(this.ds, async (tx) => {
      const [sub] = await tx.query<LockedSubscription[]>(
        `SELECT id, tenant_id, url, status, consecutive_failures, version
         FROM webhook_subscriptions WHERE id = $1 FOR UPDATE`,
        [delivery.subscriptionId],
      );
      await tx.query(
        `INSERT INTO webhook_attempts (delivery_id, attempt_number, attempted_at, status_code, duration_ms,
                                       response_body, error, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          delivery.id,
          attempt,
          attemptedAt,
          result.statusCode,
          result.durationMs,
          result.responseBody,
          success ? null : errorOf(result),
          next,
        ],
      );
      // attempt_count guards against a second worker that took over after this one's lease expired.
      const updated = await tx.query<[unknown[], number]>(
        `UPDATE webhook_deliveries
         SET status = $3, attempt_count = attempt_count + 1, next_attempt_at = $4, last_attempt_at = $5,
             last_status_code = $6, last_error = $7, dead_at = CASE WHEN $3 = 'dead' THEN now() END,
             updated_at = now()
         WHERE id = $1 AND attempt_count = $2 AND status IN ('pending', 'failed')
         RETURNING id`,
        [
          delivery.id,
          delivery.attemptCount,
          outcome,
          next,
          attemptedAt,
          result.statusCode,
          success ? null : errorOf(result),
        ],
      );
      if (updated[1] === 0 || !sub) return null;
      if (outcome === 'dead') await this.deadLetter(tx, sub, delivery, attempt, result);
      return this.updateHealth(tx, sub, success, result);
    });
    this.countOutcome(outcome, result);
    if (outcome === 'dead') {
      this.metrics.deadLetters.inc();
      this.logger.warn(`delivery ${delivery.id} dead after ${attempt} attempts: ${errorOf(result)}`);
    }
    if (disabled) {
      this.metrics.subscriptionsDisabled.inc({ reason: disabled });
      this.logger.warn(`subscription ${delivery.subscriptionId} disabled: ${disabled}`);
    }
    return next;
  }

  /** Returns the reason when this outcome disabled the subscription. */
  private async updateHealth(
    tx: Tx,
    sub: LockedSubscription,
    success: boolean,
    result: SendResult,
  ): Promise<'gone' | 'consecutive_failures' | null> {
    if (success) {
      if (sub.consecutive_failures !== 0)
        await tx.query(`UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE id = $1`, [sub.id]);
      return null;
    }
    const failures = sub.consecutive_failures + 1;
    await tx.query(`UPDATE webhook_subscriptions SET consecutive_failures = $2 WHERE id = $1`, [
      sub.id,
      failures,
    ]);
    if (sub.status !== 'active') return null;
    const reason =
      result.statusCode === 410
        ? 'gone'
        : failures >= this.config.WEBHOOK_DISABLE_AFTER_FAILURES
          ? 'consecutive_failures'
          : null;
    if (reason) {
      await tx.query(
        `UPDATE webhook_subscriptions
         SET status = 'disabled', disabled_reason = $2, disabled_at = now(), updated_at = now()
         WHERE id = $1`,
        [sub.id, reason],
      );
      await this.emit(tx, sub, 'webhook.subscription.disabled', {
        subscriptionId: sub.id,
        url: sub.url,
        reason,
        consecutiveFailures: failures,
      });
      return reason;
    }
    if (failures === this.config.WEBHOOK_FAILING_WARNING_AT)
      await this.emit(tx, sub, 'webhook.subscription.failing', {
        subscriptionId: sub.id,
        url: sub.url,
        consecutiveFailures: failures,
        threshold: this.config.WEBHOOK_DISABLE_AFTER_FAILURES,
        lastError: errorOf(result),
      });
    return null;
  }

  private async deadLetter(
    tx: Tx,
    sub: LockedSubscription,
    delivery: ClaimedDelivery,
    attempts: number,
    result: SendResult,
  ): Promise<void> {
    await this.emit(tx, sub, 'webhook.delivery.exhausted', {
      subscriptionId: sub.id,
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      attempts,
      lastError: errorOf(result),
    });
    // Published before the transaction commits: a crash in between leaves the delivery retryable and
    // publishes it again later (at-least-once, dedupe by deliveryId) rather than losing the dead letter.
    if (!this.producer) throw new Error('dead-letter producer is not started');
    await this.producer.send([
      {
        topic: platformTopics(this.config.KAFKA_TOPIC_PREFIX).webhookDeadLetter,
        key: sub.id,
        value: JSON.stringify({
          deliveryId: delivery.id,
          tenantId: delivery.tenantId,
          subscriptionId: sub.id,
          eventId: delivery.eventId,
          eventType: delivery.eventType,
          attempts,
          lastStatusCode: result.statusCode,
          lastError: errorOf(result),
          deadAt: new Date().toISOString(),
        }),
        headers: { 'delivery-id': delivery.id, 'event-id': delivery.eventId, 'tenant-id': delivery.tenantId },
      },
    ]);
  }

  /** Appends an operational event of the subscription (resource `webhook`), bumping its version. */
  private async emit(tx: Tx, sub: LockedSubscription, eventType: string, data: unknown): Promise<void> {
    sub.version += 1;
    await tx.query(`UPDATE webhook_subscriptions SET version = $2 WHERE id = $1`, [sub.id, sub.version]);
    await appendEvent(
      tx,
      buildEvent({
        eventType,
        tenantId: sub.tenant_id,
        resourceId: sub.id,
        sequence: sub.version,
        data,
        source: SOURCE,
      }),
    );
  }
}
