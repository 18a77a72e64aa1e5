import { Injectable } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity } from '@tidings/db';
import type { EventEnvelope } from '@tidings/events';
import { NotFoundProblem, ProblemError } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { parseTimestamp } from '../http/timestamp.validator';
import { foldOrder, type OrderState } from './order.fold';
import type { OrderView } from './orders.service';

/** A point in an order's life: after its event with this sequence, or as of this instant. */
export type AsOf = { sequence: number } | { time: Date };

// At most 9 digits: every such sequence fits event_log.sequence (an int), so the pattern is the whole rule.
export const AS_OF_SEQUENCE = /^[1-9][0-9]{0,8}$/;

/** Why `raw` is not an `asOf` (a sequence or an RFC 3339 time), or undefined when it is one. */
export function asOfProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return 'must be given once, as a sequence number or an RFC 3339 time';
  if (AS_OF_SEQUENCE.test(raw) || parseTimestamp(raw)) return undefined;
  return (
    'must be a sequence number (1 to 999999999) or an RFC 3339 time like 2026-11-28T12:00:00Z of a real day ' +
    'in the years 1-9999'
  );
}

/**
 * Parses `asOf`: all digits is a sequence (the order's version), anything else must be an RFC 3339 instant.
 * A bad value is a 400: guessing would answer a different question than the one asked.
 */
export function parseAsOf(raw: unknown): AsOf {
  const problem = asOfProblem(raw);
  if (problem !== undefined)
    throw new ProblemError(400, 'Validation Failed', `asOf ${problem}`, {
      errors: [{ field: 'asOf', message: problem }],
    });
  const value = raw as string;
  return AS_OF_SEQUENCE.test(value) ? { sequence: Number(value) } : { time: parseTimestamp(value)! };
}

/**
 * An order's past, straight from the event log: its full history, and its state at any earlier point,
 * folded from its events (the same fold the rebuild uses, so "as of now" equals the live projection).
 */
@Injectable()
export class OrderHistoryService {
  constructor(private readonly ds: DataSource) {}

  /**
   * Every committed event of the order in sequence order, including events the relay has not positioned
   * yet (`position: null`): an order's own history is ordered by `sequence`, which is final at commit, so
   * there is no cursor to protect and the audit trail should not lag the order. Deleted orders keep their
   * history. Unknown or another tenant's order: 404.
   */
  async history(t: TenantCtx, orderId: string): Promise<{ data: EventEnvelope[] }> {
    const events = await this.events(t, orderId);
    if (events.length === 0) throw new NotFoundProblem('Order', orderId);
    return { data: events };
  }

  /**
   * The order as it was at `asOf`. 404 when it did not exist then: not created yet, or already deleted
   * (like `GET /orders/:id` on a deleted order), or never (including another tenant's order).
   */
  async asOf(t: TenantCtx, orderId: string, asOf: AsOf): Promise<OrderView> {
    const events = await this.events(t, orderId, asOf);
    const state = foldOrder(events);
    if (!state || state.deletedAt) {
      throw new ProblemError(404, 'Not Found', `Order ${orderId} did not exist at ${describe(asOf)}`);
    }
    return toView(state);
  }

  private async events(t: TenantCtx, orderId: string, asOf?: AsOf): Promise<EventEnvelope[]> {
    const qb = this.ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .where('e.tenantId = :tenantId', { tenantId: t.tenantId })
      .andWhere(`e.resourceType = 'order'`)
      .andWhere('e.resourceId = :orderId', { orderId });
    if (asOf && 'sequence' in asOf) qb.andWhere('e.sequence <= :sequence', { sequence: asOf.sequence });
    if (asOf && 'time' in asOf) qb.andWhere('e.occurredAt <= :time', { time: asOf.time });
    const rows = await qb.orderBy('e.sequence', 'ASC').getMany();
    return rows.map(envelopeFromLogRow);
  }
}

/** The same shape as `GET /orders/:id`, so a past state reads exactly like a present one. */
function toView(o: OrderState): OrderView {
  return {
    id: o.id,
    customerId: o.customerId,
    currency: o.currency,
    items: o.items,
    totalMinor: o.totalMinor,
    status: o.status,
    notes: o.notes,
    metadata: o.metadata,
    paymentReference: o.paymentReference,
    carrier: o.carrier,
    trackingNumber: o.trackingNumber,
    cancelReason: o.cancelReason,
    version: o.version,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
  };
}

function describe(asOf: AsOf): string {
  return 'sequence' in asOf ? `sequence ${asOf.sequence}` : asOf.time.toISOString();
}
