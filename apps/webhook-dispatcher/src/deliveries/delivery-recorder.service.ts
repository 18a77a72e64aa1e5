import { Inject, Injectable } from '@nestjs/common';
import { type EventEnvelope, matchesEventType } from '@tidings/events';
import { APP_CONFIG } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { DeliveryMetrics } from './delivery-metrics.service';

interface CandidateSubscription {
  id: string;
  eventTypes: string[];
  /** Position of the subscription's `webhook.subscription.created` event; null while not yet positioned. */
  createdPosition: number | null;
  /** True when the subscription has a creation event in the log (always, for subscriptions made by the API). */
  hasCreationEvent: boolean;
  createdAt: string;
}

interface TenantSubscriptions {
  loadedAt: number;
  /** The sequencer's last assigned position in the same snapshot as `subscriptions`. */
  watermark: number;
  subscriptions: CandidateSubscription[];
}

/**
 * Turns a consumed event into delivery rows: one per matching ACTIVE subscription of the event's tenant,
 * inserted idempotently (unique (subscription_id, event_id) + ON CONFLICT DO NOTHING) before the consumer's
 * handler resolves, so the offset is committed only once the rows exist.
 *
 * Which subscriptions get an event: those whose `webhook.subscription.created` event has a LOWER position than
 * the event. Positions are assigned after commit in commit-compatible order, so this means exactly "events
 * committed after the subscription was created"; an event committed before (or concurrently with) the
 * creation is never delivered to it. Subscriptions without a creation event in the log (rows written by hand)
 * fall back to comparing `created_at` with the event's timestamp.
 *
 * The per-tenant list is cached for WEBHOOK_SUBSCRIPTION_CACHE_MS, but only used for events at or below the
 * watermark read in the same snapshot: every subscription created before such an event was already committed
 * and positioned when the list was read, so caching never drops a new subscription. Status and filter edits
 * can lag by the cache age; `webhook.subscription.*` events of a tenant drop its cache, and the worker checks
 * that a subscription is still active before every attempt.
 */
@Injectable()
export class DeliveryRecorder {
  private readonly cache = new Map<string, TenantSubscriptions>();
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    private readonly metrics: DeliveryMetrics,
  ) {}

  /** Called after new rows are inserted (the delivery worker wakes up instead of waiting for its poll). */
  onRecorded(listener: () => void): void {
    this.listeners.push(listener);
  }

  async record(event: EventEnvelope): Promise<number> {
    if (event.eventType.startsWith('webhook.subscription.')) this.cache.delete(event.tenantId);
    const position = event.position ?? (await this.positionOf(event.eventId));
    const targets = await this.matching(event, position);
    if (targets.length === 0) return 0;
    const rows = await this.ds.query<{ id: string }[]>(
      `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                       resource_id, sequence, status, next_attempt_at)
       SELECT d.id, $1, d.subscription_id, $2, $3, $4, $5, $6, 'pending', now()
       FROM unnest($7::text[], $8::text[]) AS d(id, subscription_id)
       ON CONFLICT (subscription_id, event_id) DO NOTHING
       RETURNING id`,
      [
        event.tenantId,
        event.eventId,
        event.eventType,
        position,
        event.resourceId,
        event.sequence,
        targets.map(() => `dlv_${uuidv7()}`),
        targets,
      ],
    );
    if (rows.length > 0) {
      this.metrics.recorded.inc(rows.length);
      for (const listener of this.listeners) listener();
    }
    return rows.length;
  }

  private async positionOf(eventId: string): Promise<number> {
    const [row] = await this.ds.query<
      {
        position: string | null;
      }[]
    >(`SELECT position FROM event_log WHERE event_id = $1`, [eventId]);
    // A published event always has a position; if the log disagrees, retry rather than guess.
    if (!row || row.position === null) throw new Error(`event ${eventId} has no position yet`);
    return Number(row.position);
  }

  private async matching(event: EventEnvelope, position: number): Promise<string[]> {
    const tenant = await this.subscriptionsOf(event.tenantId, position);
    return tenant.subscriptions
      .filter((s) =>
        s.hasCreationEvent
          ? s.createdPosition !== null && s.createdPosition < position
          : Date.parse(s.createdAt) <= Date.parse(event.timestamp),
      )
      .filter((s) =>
        // A test ping goes to the one subscription it names, whatever its filters.
        event.eventType === 'webhook.test'
          ? s.id === event.resourceId
          : s.eventTypes.some((pattern) => matchesEventType(pattern, event.eventType)),
      )
      .map((s) => s.id);
  }

  private async subscriptionsOf(tenantId: string, position: number): Promise<TenantSubscriptions> {
    const cached = this.cache.get(tenantId);
    if (
      cached &&
      position <= cached.watermark &&
      Date.now() - cached.loadedAt < this.config.WEBHOOK_SUBSCRIPTION_CACHE_MS
    )
      return cached;
    // One statement = one snapshot: the watermark and the list agree.
    const [row] = await this.ds.query<{ watermark: string | null; subscriptions: CandidateSubscription[] }[]>(
      `SELECT (SELECT last_position FROM sequencer_state WHERE id = 1) AS watermark,
              COALESCE((
                SELECT json_agg(json_build_object(
                         'id', s.id, 'eventTypes', s.event_types, 'createdAt', s.created_at,
                         'createdPosition', c.position, 'hasCreationEvent', c.event_id IS NOT NULL))
                FROM webhook_subscriptions s
                LEFT JOIN event_log c
                  ON c.resource_type = 'webhook' AND c.resource_id = s.id AND c.sequence = 1
                 AND c.event_type = 'webhook.subscription.created'
                WHERE s.tenant_id = $1 AND s.status = 'active' AND s.deleted_at IS NULL
              ), '[]'::json) AS subscriptions`,
      [tenantId],
    );
    const loaded: TenantSubscriptions = {
      loadedAt: Date.now(),
      watermark: Number(row?.watermark ?? 0),
      subscriptions: row?.subscriptions ?? [],
    };
    this.cache.set(tenantId, loaded);
    return loaded;
  }
}
