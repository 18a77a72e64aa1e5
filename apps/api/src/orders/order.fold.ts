import type { OrderEntity } from '@tidings/db';
import { atLatestVersion, type EventEnvelope, isResourceEvent } from '@tidings/events';

/** An order as the projection stores it; folding its events yields exactly this, field by field. */
export type OrderState = Pick<
  OrderEntity,
  | 'id'
  | 'tenantId'
  | 'customerId'
  | 'currency'
  | 'items'
  | 'totalMinor'
  | 'status'
  | 'notes'
  | 'metadata'
  | 'paymentReference'
  | 'carrier'
  | 'trackingNumber'
  | 'cancelReason'
  | 'version'
  | 'createdAt'
  | 'updatedAt'
  | 'deletedAt'
>;

/** The log contradicts itself (a gap, a second creation, an event before creation…): never silently folded. */
export class FoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FoldError';
  }
}

/**
 * Folds one event into the order's state. Events are first rendered at their type's latest version (the
 * catalogue's up-casters), so a v1 `order.created` written before v2 existed folds exactly like a v2 one and
 * the fold only knows the latest shapes. `sequence` must be the next version: the log is gapless per resource.
 */
export function applyOrderEvent(state: OrderState | null, raw: EventEnvelope): OrderState {
  const event = atLatestVersion(raw);
  const expected = (state?.version ?? 0) + 1;
  if (!isResourceEvent(event, 'order')) {
    throw new FoldError(`event ${event.eventId} is a ${event.resourceType} event, not an order event`);
  }
  if (event.sequence !== expected) {
    throw new FoldError(
      `order ${event.resourceId}: expected sequence ${expected}, got ${event.sequence} (event ${event.eventId})`,
    );
  }
  const at = new Date(event.timestamp);
  if (event.eventType === 'order.created') {
    if (state) throw new FoldError(`order ${event.resourceId} is created twice (event ${event.eventId})`);
    const d = event.data;
    return {
      id: event.resourceId,
      tenantId: event.tenantId,
      customerId: d.customer.id,
      currency: d.currency,
      items: d.items,
      totalMinor: d.totalMinor,
      status: d.status,
      notes: d.notes,
      metadata: d.metadata,
      paymentReference: null,
      carrier: null,
      trackingNumber: null,
      cancelReason: null,
      version: event.sequence,
      createdAt: at,
      updatedAt: at,
      deletedAt: null,
    };
  }
  if (!state) {
    throw new FoldError(
      `order ${event.resourceId}: ${event.eventType} before order.created (event ${event.eventId})`,
    );
  }
  if (state.deletedAt) {
    throw new FoldError(
      `order ${event.resourceId}: ${event.eventType} after order.deleted (event ${event.eventId})`,
    );
  }
  const next: OrderState = { ...state, version: event.sequence, updatedAt: at };
  switch (event.eventType) {
    case 'order.updated': {
      const { changes } = event.data;
      if (changes.customerId !== undefined) next.customerId = changes.customerId;
      if (changes.items !== undefined) next.items = changes.items;
      if (changes.totalMinor !== undefined) next.totalMinor = changes.totalMinor;
      if (changes.notes !== undefined) next.notes = changes.notes;
      if (changes.metadata !== undefined) next.metadata = changes.metadata;
      return next;
    }
    case 'order.payment_received':
      return { ...next, status: 'paid', paymentReference: event.data.paymentReference };
    case 'order.shipped':
      return {
        ...next,
        status: 'shipped',
        carrier: event.data.carrier,
        trackingNumber: event.data.trackingNumber,
      };
    case 'order.delivered':
      return { ...next, status: 'delivered' };
    case 'order.cancelled':
      return { ...next, status: 'cancelled', cancelReason: event.data.reason };
    case 'order.deleted':
      return { ...next, deletedAt: new Date(event.data.deletedAt) };
  }
}

/**
 * The order's state after `events` (one order's events in sequence order, from sequence 1), or null when
 * there are none. A deleted order folds to its last state with `deletedAt` set.
 */
export function foldOrder(events: readonly EventEnvelope[]): OrderState | null {
  return events.reduce<OrderState | null>((state, event) => applyOrderEvent(state, event), null);
}
