import { Inject, Injectable, Logger } from '@nestjs/common';
import { transaction } from '@tidings/db';
import { APP_CONFIG, OrderedStop } from '@tidings/runtime';
import {
  type Attempt,
  type AttemptResult,
  errorOf,
  type HealthPolicy,
  isSuccess,
  recordFailure,
  recordSuccesses,
  type RetryPolicy,
  type Transition,
} from '@tidings/webhooks';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { DeliveryMetrics } from './delivery-metrics.service';

interface PendingSuccess {
  attempt: Attempt;
  result: AttemptResult;
  resolve(): void;
  reject(error: unknown): void;
}

// 500 outcomes per statement: one round trip carries a busy second's worth without an unwieldy statement.
const SUCCESS_BATCH = 500;

/** How long the first success of a group waits for others to write with it. */
const GROUP_COMMIT_MS = 10;

const SOURCE = 'tidings/webhook-dispatcher';

/**
 * Records what each attempt did, through the lifecycle rules of @tidings/webhooks. A failure is one
 * transaction (`recordFailure`: attempt, next state, endpoint health, operational events via the outbox).
 * Successes — nearly every outcome — are group-committed: those that complete while a write is running are
 * written together by the next one, in one statement, so a busy subscription's outcomes do not queue on its
 * row lock; if a batch fails, each of its outcomes is written on its own.
 *
 * Health follows answer order: `record()` is called as each answer arrives, and a failure of a subscription
 * is written only after the attempts of that subscription sent before it and the successes answered before it
 * (still in the group commit) are written. `record()` resolves once its outcome is written.
 */
@Injectable()
export class DeliveryOutcomes {
  private readonly logger = new Logger(DeliveryOutcomes.name);
  private readonly policy: { retry: RetryPolicy; health: HealthPolicy };
  private successes: PendingSuccess[] = [];
  private flushing?: Promise<void>;
  /** Per subscription, the write of its latest success not yet written: its failures wait for it. */
  private readonly unwritten = new Map<string, Promise<void>>();
  /** Per subscription, the attempts sent and not yet written, by send order: a failure waits for earlier ones. */
  private readonly open = new Map<
    string,
    Map<Attempt, { sent: number; written: Promise<void>; done(): void }>
  >();
  private sends = 0;
  /** After the worker, whose attempts in flight still record outcomes (the module wires it). */
  readonly stops = new OrderedStop(() => this.flushing ?? Promise.resolve());

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) config: WebhookDispatcherConfig,
    private readonly metrics: DeliveryMetrics,
    private readonly deadLetters: DeadLetterPublisher,
  ) {
    this.policy = {
      retry: {
        schedule: config.WEBHOOK_RETRY_SCHEDULE.map((ms) => ms * config.WEBHOOK_RETRY_TIME_SCALE),
        jitter: config.WEBHOOK_RETRY_JITTER,
        retryAfterMaxMs: config.WEBHOOK_RETRY_AFTER_MAX_MS,
      },
      health: {
        failingWarningAt: config.WEBHOOK_FAILING_WARNING_AT,
        failingWarningAfterMs: config.WEBHOOK_FAILING_WARNING_AFTER * config.WEBHOOK_RETRY_TIME_SCALE,
        disableAfterDeadLetters: config.WEBHOOK_DISABLE_AFTER_DEAD_LETTERS,
      },
    };
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.stops.run();
  }

  /**
   * Called as the attempt's request is sent, before `record(attempt, …)`. A failure is judged only once every
   * attempt of its subscription sent before it is written: a success it overlapped may have reached the
   * endpoint first, and then resets the streak before this failure could extend it.
   */
  sending(attempt: Attempt): void {
    let open = this.open.get(attempt.subscriptionId);
    if (!open) this.open.set(attempt.subscriptionId, (open = new Map()));
    let done = () => {};
    const written = new Promise<void>((resolve) => (done = resolve));
    open.set(attempt, { sent: this.sends++, written, done });
  }

  /** Records the attempt; resolves with when the next attempt is due (null: succeeded or dead). */
  async record(attempt: Attempt, result: AttemptResult): Promise<Date | null> {
    try {
      return await this.write(attempt, result);
    } finally {
      const open = this.open.get(attempt.subscriptionId);
      open?.get(attempt)?.done();
      open?.delete(attempt);
      if (open?.size === 0) this.open.delete(attempt.subscriptionId);
    }
  }

  private async write(attempt: Attempt, result: AttemptResult): Promise<Date | null> {
    if (!isSuccess(result)) {
      const open = this.open.get(attempt.subscriptionId);
      const mine = open?.get(attempt)?.sent ?? Number.POSITIVE_INFINITY;
      const earlier = [...(open?.values() ?? [])].filter((o) => o.sent < mine).map((o) => o.written);
      await Promise.all([...earlier, this.unwritten.get(attempt.subscriptionId)?.catch(() => undefined)]);
      return this.recordOne(attempt, result);
    }
    const written = new Promise<void>((resolve, reject) => {
      this.successes.push({ attempt, result, resolve, reject });
      this.flushing ??= this.flushSuccesses();
    });
    this.unwritten.set(attempt.subscriptionId, written);
    const forget = () => {
      if (this.unwritten.get(attempt.subscriptionId) === written)
        this.unwritten.delete(attempt.subscriptionId);
    };
    written.then(forget, forget);
    await written;
    return null;
  }

  private async flushSuccesses(): Promise<void> {
    // Let the outcomes that complete within GROUP_COMMIT_MS join the first write: at a low rate answers come one
    // at a time, and a statement per success was the dispatcher's largest Postgres cost after recording. The
    // endpoint's slot is already free, so only the outcome's write waits.
    await new Promise((resolve) => setTimeout(resolve, GROUP_COMMIT_MS));
    while (this.successes.length > 0) {
      const batch = this.successes.splice(0, SUCCESS_BATCH);
      try {
        await recordSuccesses(this.ds, batch);
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
            recordSuccesses(this.ds, [s]).then(() => {
              this.countOutcome('succeeded', s.result);
              s.resolve();
            }, s.reject),
          ),
        );
      }
    }
    this.flushing = undefined;
  }

  private countOutcome(outcome: 'succeeded' | 'failed' | 'dead', result: AttemptResult): void {
    this.metrics.deliveries.inc({ outcome });
    this.metrics.attemptDuration.observe({ outcome }, result.durationMs / 1000);
  }

  private async recordOne(attempt: Attempt, result: AttemptResult): Promise<Date | null> {
    const recorded = await transaction(this.ds, (tx) =>
      recordFailure(tx, attempt, result, this.policy, SOURCE),
    );
    if (recorded.outcome === 'stale') return null;
    this.countOutcome(recorded.outcome, result);
    for (const t of recorded.transitions) this.report(attempt, result, t);
    return recorded.nextAttemptAt;
  }

  private report(attempt: Attempt, result: AttemptResult, t: Transition): void {
    switch (t.kind) {
      case 'exhausted':
        this.metrics.deadLetters.inc({ reason: 'retries_exhausted' });
        this.deadLetters.poke();
        this.logger.warn(
          {
            deliveryId: attempt.deliveryId,
            subscriptionId: attempt.subscriptionId,
            eventId: attempt.eventId,
            attempts: attempt.attemptCount + 1,
            reason: errorOf(result),
          },
          'delivery dead-lettered: retries exhausted',
        );
        return;
      case 'failing':
        this.metrics.subscriptionsFailing.inc();
        this.logger.warn(
          { subscriptionId: attempt.subscriptionId, reason: errorOf(result) },
          'subscription failing',
        );
        return;
      case 'disabled':
        this.metrics.subscriptionsDisabled.inc({ reason: t.reason });
        if (t.deadLettered > 0) {
          this.metrics.deadLetters.inc({ reason: 'subscription_disabled' }, t.deadLettered);
          this.deadLetters.poke();
        }
        this.logger.warn(
          { subscriptionId: attempt.subscriptionId, reason: t.reason, deadLettered: t.deadLettered },
          'subscription disabled; its open deliveries dead-lettered',
        );
        return;
    }
  }
}
