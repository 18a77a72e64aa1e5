import { Inject, Injectable, Logger } from '@nestjs/common';
import { type EventEnvelope, matchesEventType } from '@tidings/events';
import { prepared } from '@tidings/db';
import { APP_CONFIG } from '@tidings/runtime';
import {
  committedAfterCreationSql,
  effectiveMaxInFlight,
  effectiveMaxInFlightSql,
  heldBackByEarlierSql,
  matchesEventTypeSql,
  subscriptionCreatedJoinSql,
} from '@tidings/webhooks';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { DeliveryMetrics } from './delivery-metrics.service';
import { type ClaimedRow, DeliveryWorker, leaseMs } from './delivery.worker';

interface RecordedRow extends Pick<
  ClaimedRow,
  'id' | 'subscription_id' | 'event_id' | 'url' | 'secrets' | 'version_pins' | 'max_in_flight'
> {
  leased: boolean;
}

/** What admission needs to know of a tenant's active subscriptions: a hint, never the source of truth. */
interface SubscriptionHint {
  loadedAt: number;
  subscriptions: { id: string; eventTypes: string[]; maxInFlight: number }[];
}

/** An event as consumed: the envelope, and the record's traceparent (the relay's publish span). */
export interface ConsumedEvent {
  envelope: EventEnvelope;
  traceparent?: string;
}

/**
 * Turns consumed events into delivery rows: one per (event, matching ACTIVE subscription of the event's
 * tenant), inserted idempotently (unique (subscription_id, event_id) + ON CONFLICT DO NOTHING) before the
 * consumer's handler resolves, so the offset is committed only once the rows exist. A run of a partition is
 * recorded in ONE statement (one round trip, one commit).
 *
 * Matching happens in that statement, against the subscriptions as committed at that moment, so it is exact
 * and never stale:
 * - event type: exact, `prefix.*` or `*` (the SQL mirrors `matchesEventType`); `webhook.test` goes only to the
 *   subscription it names;
 * - time: the subscription's `webhook.subscription.created` event has a LOWER position than the event.
 *   Positions are assigned after commit in commit-compatible order, so this means exactly "events committed
 *   after the subscription was created"; an event committed before (or concurrently with) the creation is never
 *   delivered to it. Subscriptions without a creation event in the log (rows written by hand) fall back to
 *   comparing `created_at` with the event's timestamp.
 *
 * The fast path: before the statement, a sending slot is reserved in the worker for each (event, subscription)
 * the cached hint says will match; a row that got a slot, and has no earlier delivery of the same subscription
 * and resource still waiting under the worker's ordering rule (in the table or earlier in the run), is inserted
 * already leased and handed straight to the worker with the envelope just consumed. The others are inserted due
 * now and the worker's claim loop takes them. A stale hint only moves deliveries between the two paths.
 */
@Injectable()
export class DeliveryRecorder {
  private readonly logger = new Logger(DeliveryRecorder.name);
  private readonly hints = new Map<string, SubscriptionHint>();
  private readonly loading = new Map<string, Promise<SubscriptionHint>>();

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    private readonly metrics: DeliveryMetrics,
    private readonly worker: DeliveryWorker,
  ) {}

  record(event: ConsumedEvent): Promise<number> {
    return this.recordBatch([event]);
  }

  /**
   * Records the deliveries of consecutive events of one partition in one statement, then hands the leased ones
   * to the worker. Returns how many rows were new.
   */
  async recordBatch(batch: ConsumedEvent[]): Promise<number> {
    const events = [...new Map(batch.map((c) => [c.envelope.eventId, c.envelope])).values()];
    const traceOf = new Map(batch.map((c) => [c.envelope.eventId, c.traceparent ?? null]));
    for (const e of events)
      if (e.eventType.startsWith('webhook.subscription.')) this.hints.delete(e.tenantId);
    const hints = new Map<string, SubscriptionHint>();
    for (const tenantId of new Set(events.map((e) => e.tenantId)))
      hints.set(tenantId, await this.hintOf(tenantId));
    const candidates = events.flatMap((event) =>
      likelyTargets(event, hints.get(event.tenantId)!).map((s) => ({
        eventId: event.eventId,
        subscriptionId: s.id,
        maxInFlight: s.maxInFlight,
      })),
    );
    const admitted = this.worker.admit(candidates);
    const slots = candidates.filter((_, i) => admitted[i]);
    let rows: RecordedRow[];
    try {
      rows = await this.insert(events, slots);
    } catch (error) {
      for (const slot of slots) this.worker.release(slot.subscriptionId);
      throw error;
    }
    const byId = new Map(events.map((e) => [e.eventId, e]));
    const key = (eventId: string, subscriptionId: string) => `${eventId}|${subscriptionId}`;
    const reserved = new Set(slots.map((s) => key(s.eventId, s.subscriptionId)));
    const sent = new Set<string>();
    for (const row of rows.filter((r) => r.leased)) {
      sent.add(key(row.event_id, row.subscription_id));
      const event = byId.get(row.event_id)!;
      this.worker.dispatch(
        {
          id: row.id,
          tenant_id: event.tenantId,
          subscription_id: row.subscription_id,
          event_id: event.eventId,
          event_type: event.eventType,
          attempt_count: 0,
          url: row.url,
          secrets: row.secrets,
          version_pins: row.version_pins,
          max_in_flight: row.max_in_flight,
          traceparent: traceOf.get(event.eventId) ?? null,
        },
        event,
      );
    }
    for (const slot of slots)
      if (!sent.has(key(slot.eventId, slot.subscriptionId))) this.worker.release(slot.subscriptionId);
    const waiting = rows.filter((r) => !r.leased);
    this.metrics.recorded.inc({ path: 'direct' }, sent.size);
    this.metrics.recorded.inc({ path: 'claimed' }, waiting.length);
    if (waiting.length > 0)
      this.worker.queued({
        // A slot was reserved but the row went in unleased: an earlier delivery of its resource is still open.
        heldBack: waiting.some((r) => reserved.has(key(r.event_id, r.subscription_id))),
      });
    return rows.length;
  }

  /**
   * One statement: match, insert — leased (next_attempt_at = now + lease) where the worker may send at once,
   * due now otherwise — and return the inserted rows with their subscription's current URL, secrets and pins.
   */
  private async insert(
    events: EventEnvelope[],
    slots: { eventId: string; subscriptionId: string }[],
  ): Promise<RecordedRow[]> {
    if (events.some((e) => e.position === null))
      // A published event always has a position (fromKafkaMessage rejects one without); never guess.
      throw new Error('cannot record deliveries of an unpositioned event');
    // Prepared: planning this statement cost more than running it (docs/benchmarks.md, "Postgres per event").
    return prepared<RecordedRow>(
      this.ds,
      `WITH ev AS (
         SELECT *
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::timestamptz[])
              AS ev(event_id, tenant_id, event_type, event_position, resource_id, sequence, occurred_at)
       ), slot AS (
         SELECT * FROM unnest($8::uuid[], $9::text[]) AS slot(event_id, subscription_id)
       ), target AS (
         SELECT ev.*, s.id AS subscription_id,
                slot.event_id IS NOT NULL
                AND row_number() OVER (PARTITION BY s.id, ev.resource_id ORDER BY ev.sequence) = 1
                AND NOT ${heldBackByEarlierSql('s.id', 'ev.resource_id', 'ev.sequence', 's.strict_ordering')} AS direct
         FROM ev
         JOIN webhook_subscriptions s
           ON s.tenant_id = ev.tenant_id AND s.status = 'active' AND s.deleted_at IS NULL
         ${subscriptionCreatedJoinSql('s')}
         LEFT JOIN slot ON slot.event_id = ev.event_id AND slot.subscription_id = s.id
         WHERE ${matchesEventTypeSql('s', 'ev.event_type', 'ev.resource_id')}
           AND ${committedAfterCreationSql('s', 'ev.event_position', 'ev.occurred_at')}
       ), inserted AS (
         INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                         resource_id, sequence, status, next_attempt_at)
         SELECT 'dlv_' || gen_random_uuid()::text, tenant_id, subscription_id, event_id, event_type,
                event_position, resource_id, sequence, 'pending',
                CASE WHEN direct THEN now() + make_interval(secs => $10::double precision / 1000) ELSE now() END
         FROM target
         ON CONFLICT (subscription_id, event_id) DO NOTHING
         RETURNING id, subscription_id, event_id, next_attempt_at > now() AS leased
       )
       SELECT i.id, i.subscription_id, i.event_id, i.leased, s.url, s.secrets, s.version_pins,
              ${effectiveMaxInFlightSql('s', this.config)} AS max_in_flight
       FROM inserted i JOIN webhook_subscriptions s ON s.id = i.subscription_id`,
      [
        events.map((e) => e.eventId),
        events.map((e) => e.tenantId),
        events.map((e) => e.eventType),
        events.map((e) => e.position),
        events.map((e) => e.resourceId),
        events.map((e) => e.sequence),
        events.map((e) => e.timestamp),
        slots.map((s) => s.eventId),
        slots.map((s) => s.subscriptionId),
        leaseMs(this.config),
      ],
    );
  }

  /**
   * A tenant's subscription hint, refreshed in the background every WEBHOOK_SUBSCRIPTION_CACHE_MS (loaded in
   * line only the first time a tenant is seen, or after one of its subscriptions changed).
   */
  private async hintOf(tenantId: string): Promise<SubscriptionHint> {
    const hint = this.hints.get(tenantId);
    if (!hint) return this.loadHint(tenantId);
    if (Date.now() - hint.loadedAt > this.config.WEBHOOK_SUBSCRIPTION_CACHE_MS)
      this.loadHint(tenantId).catch((error: unknown) =>
        this.logger.warn(
          `subscription hint not refreshed: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    return hint;
  }

  private loadHint(tenantId: string): Promise<SubscriptionHint> {
    let loading = this.loading.get(tenantId);
    if (!loading) {
      loading = this.ds
        .query<{ id: string; event_types: string[]; max_in_flight: number | null }[]>(
          `SELECT id, event_types, max_in_flight FROM webhook_subscriptions
           WHERE tenant_id = $1 AND status = 'active' AND deleted_at IS NULL`,
          [tenantId],
        )
        .then((rows) => {
          const hint = {
            loadedAt: Date.now(),
            subscriptions: rows.map((r) => ({
              id: r.id,
              eventTypes: r.event_types,
              maxInFlight: effectiveMaxInFlight(r.max_in_flight, this.config),
            })),
          };
          this.hints.set(tenantId, hint);
          return hint;
        })
        .finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, loading);
    }
    return loading;
  }
}

/** The subscriptions the hint says the event will match (the recording statement decides for real). */
function likelyTargets(event: EventEnvelope, hint: SubscriptionHint): SubscriptionHint['subscriptions'] {
  return hint.subscriptions.filter((s) =>
    event.eventType === 'webhook.test'
      ? s.id === event.resourceId
      : s.eventTypes.some((pattern) => matchesEventType(pattern, event.eventType)),
  );
}
