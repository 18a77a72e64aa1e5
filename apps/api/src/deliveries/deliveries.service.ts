import { Injectable } from '@nestjs/common';
import {
  type DeadReason,
  type DeliveryStatus,
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
  WebhookSubscriptionEntity,
} from '@tidings/db';
import { ConflictProblem, NotFoundProblem } from '@tidings/runtime';
import { redeliver, retryNow } from '@tidings/webhooks';
import { DataSource, IsNull } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { likePattern } from '../events/events.service';
import { decodePositionCursor, encodePositionCursor } from '../http/cursor';
import { DEFAULT_PAGE_LIMIT } from '../webhooks/webhooks.dto';

export interface DeliveryView {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  eventPosition: number;
  resourceId: string;
  sequence: number;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deadAt: string | null;
  deadReason: DeadReason | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryFilter {
  subscriptionId?: string;
  status?: DeliveryStatus;
  eventType?: string;
  cursor?: string;
  limit?: number;
}

/** Which deliveries to schedule again (always within one tenant); eventType is a pattern (`order.*`). */
export interface RedeliverFilter {
  statuses: DeliveryStatus[];
  subscriptionId?: string;
  deliveryId?: string;
  eventType?: string;
  /** Bounds on when the delivery failed or died: COALESCE(dead_at, last_attempt_at). */
  since?: Date;
  until?: Date;
}

// The delivery log shows the start of a response: enough to see the error, small enough to list.
const RESPONSE_PREVIEW_CHARS = 4096;

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function deliveryView(d: WebhookDeliveryEntity): DeliveryView {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    eventType: d.eventType,
    eventPosition: d.eventPosition,
    resourceId: d.resourceId,
    sequence: d.sequence,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastAttemptAt: iso(d.lastAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    deadAt: iso(d.deadAt),
    deadReason: d.deadReason,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

/**
 * The delivery log and manual re-delivery (the rules are @tidings/webhooks'). Re-delivery only moves rows back
 * to `pending` with next_attempt_at = now: the dispatcher's worker picks them up like any due delivery, with the
 * same webhook-id (event id), so receivers that dedupe see a repeat, not a new event. Deliveries of a disabled
 * subscription are not redelivered (they would wait in limbo): enable it, with replay, instead. A row whose
 * attempt is in flight at that moment may be sent twice (at-least-once, as everywhere).
 */
@Injectable()
export class DeliveriesService {
  constructor(private readonly ds: DataSource) {}

  async list(t: TenantCtx, f: DeliveryFilter) {
    if (f.subscriptionId !== undefined) await this.assertSubscription(t, f.subscriptionId);
    const after = decodePositionCursor(f.cursor, 'dlv_');
    const limit = f.limit ?? DEFAULT_PAGE_LIMIT;
    const qb = this.ds
      .getRepository(WebhookDeliveryEntity)
      .createQueryBuilder('d')
      .where('d.tenantId = :tenantId', { tenantId: t.tenantId });
    if (f.subscriptionId !== undefined) qb.andWhere('d.subscriptionId = :sid', { sid: f.subscriptionId });
    if (f.status !== undefined) qb.andWhere('d.status = :status', { status: f.status });
    if (f.eventType !== undefined && f.eventType !== '*')
      qb.andWhere(`d.eventType LIKE :type ESCAPE '\\'`, { type: likePattern(f.eventType) });
    if (after) qb.andWhere('(d.eventPosition, d.id) < (:pos, :id)', { pos: after.position, id: after.id });
    const rows = await qb
      .orderBy('d.eventPosition', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map(deliveryView),
      nextCursor: rows.length > limit ? encodePositionCursor(last.eventPosition, last.id) : null,
    };
  }

  async get(t: TenantCtx, id: string) {
    const delivery = await this.find(t, id);
    const attempts = await this.ds
      .getRepository(WebhookAttemptEntity)
      .find({ where: { deliveryId: id }, order: { attemptedAt: 'ASC', id: 'ASC' } });
    return {
      ...deliveryView(delivery),
      attempts: attempts.map((a) => ({
        attemptNumber: a.attemptNumber,
        attemptedAt: a.attemptedAt.toISOString(),
        statusCode: a.statusCode,
        durationMs: a.durationMs,
        responseBody: a.responseBody === null ? null : a.responseBody.slice(0, RESPONSE_PREVIEW_CHARS),
        error: a.error,
        nextAttemptAt: iso(a.nextAttemptAt),
      })),
    };
  }

  /**
   * One more attempt now. A failed delivery keeps its place in the schedule; a dead one gets the whole
   * schedule back (as a dead-letter replay does); a succeeded one is sent again.
   */
  async retry(t: TenantCtx, id: string): Promise<DeliveryView> {
    await this.find(t, id);
    if (!(await retryNow(this.ds, t.tenantId, id))) throw subscriptionNotActive();
    return deliveryView(await this.find(t, id));
  }

  async recover(t: TenantCtx, subscriptionId: string, since: Date): Promise<{ count: number }> {
    await this.assertSubscription(t, subscriptionId);
    return this.redeliver(t, { statuses: ['failed', 'dead'], subscriptionId, since }, false);
  }

  /**
   * Schedules the matching deliveries again from scratch: pending, attempt count 0, due now. Only deliveries
   * of active subscriptions are matched. With `dryRun`, only counts.
   */
  redeliver(t: TenantCtx, f: RedeliverFilter, dryRun: boolean): Promise<{ count: number }> {
    const { eventType, ...rest } = f;
    return redeliver(
      this.ds,
      t.tenantId,
      {
        ...rest,
        eventTypeLike: eventType === undefined || eventType === '*' ? undefined : likePattern(eventType),
      },
      dryRun,
    );
  }

  /** A delivery of this tenant; another tenant's is not found, like a missing one. */
  async find(t: TenantCtx, id: string): Promise<WebhookDeliveryEntity> {
    const row = await this.ds
      .getRepository(WebhookDeliveryEntity)
      .findOne({ where: { id, tenantId: t.tenantId } });
    if (!row) throw new NotFoundProblem('Delivery', id);
    return row;
  }

  /** 409 unless the delivery's subscription is active: a redelivery would never be sent. */
  async assertActive(t: TenantCtx, delivery: WebhookDeliveryEntity): Promise<void> {
    const active = await this.ds.getRepository(WebhookSubscriptionEntity).exists({
      where: { id: delivery.subscriptionId, tenantId: t.tenantId, status: 'active', deletedAt: IsNull() },
    });
    if (!active) throw subscriptionNotActive();
  }

  private async assertSubscription(t: TenantCtx, id: string): Promise<void> {
    const exists = await this.ds
      .getRepository(WebhookSubscriptionEntity)
      .exists({ where: { id, tenantId: t.tenantId, deletedAt: IsNull() } });
    if (!exists) throw new NotFoundProblem('Webhook', id);
  }
}

const subscriptionNotActive = () =>
  new ConflictProblem(
    'The subscription of this delivery is disabled or deleted; enable it (POST /webhooks/:id/enable replays what it missed)',
  );
