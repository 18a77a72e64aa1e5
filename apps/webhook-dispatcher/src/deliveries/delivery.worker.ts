import { Inject, Injectable, Logger } from '@nestjs/common';
import { envelopeFromRawRow, type RawEventColumns, type SigningSecret } from '@tidings/db';
import {
  encodeEnvelope,
  type EventEnvelope,
  latestVersion,
  renderAtVersion,
  versionInfo,
} from '@tidings/events';
import { APP_CONFIG, OrderedStop, secondsSinceCommit, SpanKind, startSpan, WakeUp } from '@tidings/runtime';
import { DeliveryMetrics } from './delivery-metrics.service';
import { signPayload } from '@tidings/signing';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import {
  type Attempt,
  effectiveMaxInFlightSql,
  errorOf,
  heldBackByEarlierSql,
  isSuccess,
} from '@tidings/webhooks';
import { DeliveryOutcomes } from './delivery-outcome.service';
import { DeliverySender, type SendResult } from './delivery-sender.service';

/** A delivery this process holds the lease of, with what sending it needs. */
export interface ClaimedRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  attempt_count: number;
  url: string;
  secrets: SigningSecret[];
  version_pins: Record<string, number>;
  /** Its subscription's concurrency (`effectiveMaxInFlight`): requests open at once, the size of its pool. */
  max_in_flight: number;
  /**
   * The context the attempt's span continues: the consumed record's (the relay's publish span), or the one
   * stored with the event when the delivery is claimed from the table.
   */
  traceparent: string | null;
}

export const USER_AGENT = 'Tidings-Webhooks/1';

/** The non-expired secrets of a subscription: during a rotation both old and new sign every request. */
export function activeSecrets(secrets: SigningSecret[], now = Date.now()): string[] {
  return secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now).map((s) => s.secret);
}

/**
 * The request body: the envelope rendered at `version`, serialised once (the signature covers exactly these
 * bytes and these bytes are sent). Fields are laid out in envelope order whatever object they come from, so
 * an event consumed from Kafka and the same event read from the log give the same bytes.
 */
export function webhookBody(envelope: EventEnvelope, version: number): string {
  return encodeEnvelope(renderAtVersion(envelope, version));
}

/**
 * Deprecation notice for a rendering at a deprecated catalogue version: `Deprecation: true` (the catalogue
 * records no deprecation date, so the boolean form of the IETF draft that GitHub and others send) and, when the
 * catalogue names one, `Sunset` (RFC 8594) as an HTTP-date.
 */
export function deprecationHeaders(eventType: string, version: number): Record<string, string> {
  const info = versionInfo(eventType, version);
  if (!info.deprecated) return {};
  return info.sunset
    ? { deprecation: 'true', sunset: new Date(info.sunset).toUTCString() }
    : { deprecation: 'true' };
}

/**
 * Sends deliveries, up to WEBHOOK_WORKER_CONCURRENCY at once and each subscription's maxInFlight per
 * subscription, so a slow or hanging endpoint holds only its own slots. Deliveries arrive directly from the
 * recorder (`admit()` + `dispatch()`, with the consumed envelope) or are claimed from the table (retries, no
 * free slot, an earlier delivery still open, expired leases, replays); docs/architecture.md has both paths.
 *
 * At least once; dedupe key: `webhook-id` = event id. Replicas never take the same row (SKIP LOCKED plus a
 * lease); a process that dies mid-attempt leaves the lease to expire and the delivery is sent again. An
 * outcome only applies while attempt_count is what was claimed, so a late worker never overwrites a newer one.
 *
 * Ordering per subscription and resource: first attempts go out and complete in sequence order (retries do
 * not hold back later events); with `strict_ordering`, strict FIFO until each earlier one succeeded or died.
 *
 * Shutdown: once the consumer closed, stop claiming, finish what is held, release (see `halt()`).
 */
/** A subscription's deliveries in this process: waiting in `queue` or sending, all leased. */
interface Lane {
  /**
   * The cap on `sending`: its subscription's maxInFlight as read with the delivery queued last (as the recorder's
   * hint had it, until one is queued).
   */
  limit: number;
  /** Slots held: admitted but not yet handed over, queued, or sending; at most twice `limit`. */
  held: number;
  sending: number;
  queue: Queued[];
}

/** A leased delivery and the event it carries. */
interface Queued {
  row: ClaimedRow;
  envelope: EventEnvelope;
}

/** Longest a claim waits for more room while draining a backlog. */
const CLAIM_WAIT_MS = 10;

/** How long after a delivery was held back by the ordering rule recorded outcomes trigger a claim. */
const HELD_BACK_WATCH_MS = 5_000;

/**
 * How long a claimed or directly sent delivery is leased: it may wait in its subscription's queue for up to
 * one attempt of the deliveries ahead of it (the queue is as long as the concurrency cap) and then take one
 * attempt itself, both bounded by the timeout, plus the margin for recording the outcome.
 */
export const leaseMs = (c: WebhookDispatcherConfig) => 2 * c.WEBHOOK_TIMEOUT_MS + c.WEBHOOK_LEASE_MARGIN_MS;

@Injectable()
export class DeliveryWorker {
  private readonly logger = new Logger(DeliveryWorker.name);
  private running = false;
  private loop?: Promise<void>;
  /** After the consumer, which may still hand deliveries over (the module wires it). */
  readonly stops = new OrderedStop(() => this.halt());
  /** Attempts not yet recorded (shutdown waits for them). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lanes = new Map<string, Lane>();
  private held = 0;
  private sending = 0;
  /** Deliveries may be due in the table (recorded unleased, or claims were cut short by the caps). */
  private backlog = true;
  private queuedEpoch = 0;
  private heldBackAt = 0;
  private lastClaimAt = 0;
  private lastClaimGot = 0;
  private freedSinceClaim = 0;
  private retryTimer?: NodeJS.Timeout;
  private retryDue = 0;
  /** Due times of retries this process recorded, not yet reached. */
  private retryDues: number[] = [];
  private readonly wakeUp = new WakeUp();
  /** In total and per subscription, a process holds up to twice what it sends at once: one queued per slot. */
  private readonly totalLimit: number;

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    private readonly sender: DeliverySender,
    private readonly outcomes: DeliveryOutcomes,
    private readonly metrics: DeliveryMetrics,
  ) {
    this.totalLimit = 2 * config.WEBHOOK_WORKER_CONCURRENCY;
  }

  /** Running before the consumer feeds it: createApp connects the transport after the bootstrap hooks. */
  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.stops.run();
  }

  /** Wakes the loop now instead of at the next poll. */
  private poke(): void {
    this.wakeUp.poke();
  }

  /**
   * Deliveries were recorded unleased: claim them now instead of at the next poll. New deliveries of a
   * subscription are still sent directly while its older ones wait for a claim: under overload the direct path
   * is what keeps throughput up (a claim is a statement per batch of rows), so newer events can overtake a
   * backlog, which drains as soon as the endpoint keeps up again (docs/benchmarks.md).
   */
  queued({ heldBack = false } = {}): void {
    // Held back by an earlier delivery of the same resource (most likely one in flight here): it becomes
    // claimable when that one's outcome is recorded, so claim again after outcomes for a while.
    if (heldBack) this.heldBackAt = Date.now();
    this.queuedEpoch += 1;
    this.backlog = true;
    this.poke();
  }

  /**
   * Reserves a slot for each entry (a subscription and its maxInFlight, once per delivery) while the limits
   * allow, in order; returns which entries got one. The caller inserts those deliveries leased and passes each
   * to `dispatch()`, or gives the slot back with `release()`.
   */
  admit(entries: { subscriptionId: string; maxInFlight: number }[]): boolean[] {
    return entries.map(({ subscriptionId, maxInFlight }) => {
      if (!this.running || this.held >= this.totalLimit) return false;
      if ((this.lanes.get(subscriptionId)?.held ?? 0) >= 2 * maxInFlight) return false;
      this.hold(subscriptionId, maxInFlight);
      return true;
    });
  }

  /** Sends a delivery admitted and leased by the recorder, rendering the envelope it consumed. */
  dispatch(row: ClaimedRow, envelope: EventEnvelope): void {
    this.enqueue({ row, envelope });
    this.pump();
  }

  /**
   * Queues a held delivery. The row was read with its subscription as committed, so its maxInFlight is the
   * newest the lane has seen (the recorder's hint may be a second old): a changed setting applies from here.
   */
  private enqueue(item: Queued): void {
    const lane = this.lane(item.row.subscription_id);
    lane.limit = item.row.max_in_flight;
    lane.queue.push(item);
  }

  /** Gives back a slot from `admit()` that was not used. */
  release(subscriptionId: string): void {
    this.unhold(subscriptionId);
  }

  /**
   * Runs before the DataSource, Kafka client and HTTP agent close (their `onApplicationShutdown`): stop taking
   * work, finish what is held (each attempt is bounded by WEBHOOK_TIMEOUT_MS and gets recorded), return the rest.
   */
  private async halt(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.poke();
    await this.loop;
    await this.returnQueued();
    await Promise.allSettled([...this.inFlight]);
  }

  /** The lane of a subscription that holds slots (every caller but `hold` runs after one was held). */
  private lane(subscriptionId: string): Lane {
    return this.lanes.get(subscriptionId)!;
  }

  private hold(subscriptionId: string, maxInFlight: number): void {
    let lane = this.lanes.get(subscriptionId);
    if (!lane) {
      lane = { limit: maxInFlight, held: 0, sending: 0, queue: [] };
      this.lanes.set(subscriptionId, lane);
    }
    lane.held += 1;
    this.held += 1;
  }

  private unhold(subscriptionId: string): void {
    const lane = this.lane(subscriptionId);
    lane.held -= 1;
    this.held -= 1;
    this.freedSinceClaim += 1;
    if (lane.held === 0) this.lanes.delete(subscriptionId);
    // Room to hold more: worth a claim only when something may be waiting in the table.
    if (this.backlog) this.poke();
  }

  /** Starts queued deliveries while the caps allow, one per subscription per round (round-robin). */
  private pump(): void {
    let started = true;
    while (this.running && started && this.sending < this.config.WEBHOOK_WORKER_CONCURRENCY) {
      started = false;
      for (const lane of this.lanes.values()) {
        if (this.sending >= this.config.WEBHOOK_WORKER_CONCURRENCY) break;
        if (lane.sending >= lane.limit) continue;
        const next = lane.queue.shift();
        if (!next) continue;
        lane.sending += 1;
        this.sending += 1;
        started = true;
        this.track(next.row, next.envelope);
      }
    }
  }

  /** Queued deliveries not started at shutdown: their leases end now, so another replica sends them at once. */
  private async returnQueued(): Promise<void> {
    const ids = [...this.lanes.values()].flatMap((lane) => lane.queue.splice(0).map((q) => q.row.id));
    if (ids.length === 0) return;
    try {
      await this.ds.query(
        `UPDATE webhook_deliveries SET next_attempt_at = now()
         WHERE id = ANY($1::text[]) AND status IN ('pending', 'failed') AND next_attempt_at > now()`,
        [ids],
      );
    } catch (error) {
      // Their leases expire on their own; they are sent late, not lost.
      this.logger.warn(
        `queued leases not returned: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async run(): Promise<void> {
    let idle = 5;
    while (this.running) {
      // Draining a backlog, a claim per freed slot would cost a statement per delivery: wait until half the
      // sending slots of the widest subscription held have freed up (or CLAIM_WAIT_MS passed) and claim that much
      // at once.
      const sinceClaim = Date.now() - this.lastClaimAt;
      if (this.lastClaimGot > 0 && this.freedSinceClaim < this.claimBatch() && sinceClaim < CLAIM_WAIT_MS) {
        await this.sleep(CLAIM_WAIT_MS - sinceClaim);
        continue;
      }
      const room = this.totalLimit - this.held;
      let claimed: Queued[] = [];
      this.freedSinceClaim = 0;
      this.lastClaimAt = Date.now();
      if (room > 0) {
        const epoch = this.queuedEpoch;
        try {
          const result = await this.claim(room);
          claimed = result.rows;
          // Nothing due, nobody left out, nothing recorded meanwhile: no more claims until told or polled.
          if (claimed.length === 0 && !result.saturated && epoch === this.queuedEpoch) this.backlog = false;
        } catch (error) {
          this.logger.error(`claim failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      this.lastClaimGot = claimed.length;
      for (const item of claimed) {
        this.hold(item.row.subscription_id, item.row.max_in_flight);
        this.enqueue(item);
      }
      this.pump();
      if (claimed.length > 0 && claimed.length === room) {
        idle = 5;
        continue;
      }
      // Idle backoff: 5 ms doubling to WEBHOOK_POLL_MAX_MS; recorded deliveries and freed room wake it early.
      await this.sleep(idle);
      idle = claimed.length > 0 ? 5 : Math.min(idle * 2, this.config.WEBHOOK_POLL_MAX_MS);
    }
  }

  /** Claims again when a retry this process scheduled falls due, rather than at the next idle poll. */
  private wakeAt(due: number): void {
    // Bounded: beyond this many (a mass outage) the idle poll picks the rest up, at most WEBHOOK_POLL_MAX_MS late.
    if (this.retryDues.length < 10_000) this.retryDues.push(due);
    this.armRetryTimer();
  }

  private armRetryTimer(): void {
    if (!this.running || this.retryDues.length === 0) return;
    const earliest = this.retryDues.reduce((a, b) => Math.min(a, b));
    if (this.retryTimer && this.retryDue <= earliest) return;
    clearTimeout(this.retryTimer);
    this.retryDue = earliest;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        const now = Date.now();
        this.retryDues = this.retryDues.filter((d) => d > now);
        this.backlog = true;
        this.poke();
        this.armRetryTimer();
      },
      Math.max(0, earliest - Date.now()),
    );
    this.retryTimer.unref();
  }

  /** Room worth a claim while draining: half the sending slots of the widest subscription held here. */
  private claimBatch(): number {
    let widest = this.config.WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION;
    for (const lane of this.lanes.values()) widest = Math.max(widest, lane.limit);
    return Math.max(1, Math.floor(widest / 2));
  }

  private sleep(ms: number): Promise<void> {
    return this.wakeUp.sleep(ms);
  }

  /** Runs one attempt of a delivery already counted as sending; its slot frees once the response is in. */
  private track(row: ClaimedRow, envelope: EventEnvelope): void {
    const task = this.attempt(row, envelope)
      .catch((error: unknown) =>
        // The lease expires and the delivery is attempted again: nothing is lost.
        this.logger.error({ deliveryId: row.id, err: error }, 'attempt not recorded'),
      )
      .finally(() => {
        this.inFlight.delete(task);
        if (Date.now() - this.heldBackAt < HELD_BACK_WATCH_MS) {
          this.backlog = true;
          this.poke();
        }
      });
    this.inFlight.add(task);
  }

  private sent(subscriptionId: string): void {
    this.lane(subscriptionId).sending -= 1;
    this.sending -= 1;
    this.unhold(subscriptionId);
    this.pump();
  }

  /**
   * Claims up to `room` due deliveries, at most twice its maxInFlight held per subscription. `saturated`:
   * whether some subscription was left out for being full (due rows of it may remain).
   */
  private async claim(room: number): Promise<{ rows: Queued[]; saturated: boolean }> {
    const full = [...this.lanes].filter(([, lane]) => lane.held >= 2 * lane.limit).map(([id]) => id);
    const maxInFlight = effectiveMaxInFlightSql('s', this.config);
    const held = Object.fromEntries([...this.lanes].map(([id, lane]) => [id, lane.held]));
    // One statement: pick (the candidates come off the due index in order, each checked against the ordering
    // rule with an index probe, and the scan stops at the limit, so the cost follows what is claimable, not
    // the backlog), lock (a row another replica holds is skipped: this claim takes fewer), lease, and return
    // what sending needs: the subscription and the event itself.
    // A top-level UPDATE: TypeORM answers [rows, affected count].
    const [rows] = await this.ds.query<[(ClaimedRow & RawEventColumns)[], number]>(
      `WITH due AS (
         SELECT d.id, d.subscription_id, d.next_attempt_at, d.event_position, ${maxInFlight} AS max_in_flight
         FROM webhook_deliveries d
         JOIN webhook_subscriptions s ON s.id = d.subscription_id
         WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
           AND s.status = 'active' AND s.deleted_at IS NULL
           AND d.subscription_id <> ALL($1::text[])
           AND NOT ${heldBackByEarlierSql('d.subscription_id', 'd.resource_id', 'd.sequence', 's.strict_ordering')}
         ORDER BY d.next_attempt_at
         LIMIT $4
       ), ranked AS (
         SELECT id FROM (
           SELECT id, subscription_id, next_attempt_at, event_position, max_in_flight,
                  row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at, event_position) AS rn
           FROM due) r
         WHERE rn <= 2 * max_in_flight - COALESCE(($2::jsonb ->> subscription_id)::int, 0)
         ORDER BY next_attempt_at, event_position
         LIMIT $3
       ), picked AS (
         -- By primary key: joined to the candidates instead, the planner hashes every due row, which made a
         -- claim cost O(backlog) (59–80 ms at 50,000 due, 13–16 ms this way: docs/benchmarks.md).
         SELECT d.id
         FROM webhook_deliveries d
         WHERE d.id = ANY (ARRAY(SELECT id FROM ranked))
           AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
         FOR UPDATE OF d SKIP LOCKED
       )
       UPDATE webhook_deliveries d
       SET next_attempt_at = now() + make_interval(secs => $5::double precision / 1000)
       FROM picked, webhook_subscriptions s, event_log e
       WHERE d.id = picked.id AND s.id = d.subscription_id AND e.event_id = d.event_id
       RETURNING d.id, d.tenant_id, d.subscription_id, d.event_id, d.event_type, d.attempt_count,
                 s.url, s.secrets, s.version_pins, ${maxInFlight} AS max_in_flight,
                 e.version, e.resource_type, e.resource_id, e.sequence, e.source, e.occurred_at, e.data,
                 e.position, e.traceparent`,
      [full, JSON.stringify(held), room, Math.max(4 * room, 100), leaseMs(this.config)],
    );
    return {
      rows: rows.map((row) => ({ row: row as ClaimedRow, envelope: envelopeFromRawRow(row) })),
      saturated: full.length > 0,
    };
  }

  private async attempt(row: ClaimedRow, envelope: EventEnvelope): Promise<void> {
    const attempt: Attempt = {
      deliveryId: row.id,
      subscriptionId: row.subscription_id,
      eventId: row.event_id,
      eventType: row.event_type,
      attemptCount: row.attempt_count,
      attemptedAt: new Date(),
      answeredAt: new Date(),
    };
    let result: SendResult;
    this.outcomes.sending(attempt);
    // The attempt is the HTTP CLIENT span; its context goes to the receiver as `traceparent`.
    const span = startSpan('POST', {
      kind: SpanKind.CLIENT,
      parent: row.traceparent,
      attributes: {
        'http.request.method': 'POST',
        'tidings.delivery_id': row.id,
        'tidings.event_id': row.event_id,
        'tidings.attempt': row.attempt_count + 1,
      },
    });
    try {
      const { body, headers } = this.render(row, envelope);
      result = await this.sender.send(
        { subscriptionId: row.subscription_id, maxInFlight: row.max_in_flight },
        row.url,
        body,
        span.traceparent ? { ...headers, traceparent: span.traceparent } : headers,
      );
    } catch (error) {
      // Rendering or signing failed (e.g. a pin to a version the catalogue no longer has): a failed attempt
      // with the reason in the log, retried on the schedule like any other.
      result = {
        statusCode: null,
        durationMs: 0,
        responseBody: null,
        error: `not sent: ${error instanceof Error ? error.message : String(error)}`,
        retryAfterMs: null,
      };
    } finally {
      attempt.answeredAt = new Date();
      // The endpoint is no longer busy; recording the outcome does not hold its slot.
      this.sent(row.subscription_id);
    }
    if (result.statusCode !== null) span.setAttributes({ 'http.response.status_code': result.statusCode });
    span.end(isSuccess(result) ? undefined : errorOf(result));
    const next = await this.outcomes.record(attempt, result);
    if (isSuccess(result))
      this.metrics.commitToDelivered.observe(
        secondsSinceCommit(envelope.timestamp, attempt.answeredAt.getTime()),
      );
    else this.logFailure(row, envelope, result, next);
    if (next) this.wakeAt(next.getTime());
  }

  /** One line per failed attempt, with its reason and what happens next (`nextAttemptAt` null: no retry). */
  private logFailure(row: ClaimedRow, envelope: EventEnvelope, result: SendResult, next: Date | null): void {
    this.logger.warn(
      {
        tenantId: row.tenant_id,
        subscriptionId: row.subscription_id,
        deliveryId: row.id,
        eventId: row.event_id,
        eventType: row.event_type,
        position: envelope.position,
        attempt: row.attempt_count + 1,
        status: result.statusCode,
        reason: errorOf(result),
        durationMs: result.durationMs,
        nextAttemptAt: next?.toISOString() ?? null,
      },
      'webhook attempt failed',
    );
  }

  private render(
    row: ClaimedRow,
    envelope: EventEnvelope,
  ): { body: string; headers: Record<string, string> } {
    const version = row.version_pins[row.event_type] ?? latestVersion(row.event_type);
    const body = webhookBody(envelope, version);
    const signed = signPayload({
      id: row.event_id,
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: activeSecrets(row.secrets),
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        ...deprecationHeaders(row.event_type, version),
        ...signed,
      },
    };
  }
}
