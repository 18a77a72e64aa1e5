import { appendEvent, transaction } from '@tidings/db';
import {
  buildEvent,
  type EventData,
  type EventEnvelope,
  exampleData,
  type KnownEventType,
} from '@tidings/events';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

type OrderEventType = Extract<KnownEventType, `order.${string}`>;

/** Where an order event belongs: its tenant, its order, its place in the order's life and, if given, its time. */
export interface OrderEventAt {
  tenantId: string;
  orderId?: string;
  sequence?: number;
  timestamp?: string;
  source?: string;
}

/** An order event of `eventType` (latest version) carrying `data`, as the API emits it: orderId filled in. */
export function orderEvent<T extends OrderEventType>(
  eventType: T,
  at: OrderEventAt,
  data: Omit<EventData<T>, 'orderId'>,
): EventEnvelope {
  const orderId = at.orderId ?? `ord_${randomUUID()}`;
  return buildEvent<T>({
    eventType,
    tenantId: at.tenantId,
    resourceId: orderId,
    sequence: at.sequence ?? 1,
    source: at.source ?? 'tidings/api',
    ...(at.timestamp === undefined ? {} : { timestamp: at.timestamp }),
    data: { orderId, ...data } as EventData<T>,
  });
}

/** The data of a new pending order's `order.created` (latest version): the catalogue's example, a fresh copy. */
export function orderCreatedData(): Omit<EventData<'order.created'>, 'orderId'> {
  const { orderId: _, ...data } = structuredClone(exampleData('order.created'));
  return data;
}

/** An `order.created` (latest version) of a new pending order (`orderCreatedData`, `data` over it). */
export function orderCreatedEvent(
  opts: { tenantId: string; orderId?: string; source?: string },
  data: Record<string, unknown> = {},
): EventEnvelope {
  return orderEvent('order.created', opts, {
    ...orderCreatedData(),
    ...data,
  } as Omit<EventData<'order.created'>, 'orderId'>);
}

/** Commits `event` through the outbox in its own transaction (unpositioned until a relay runs: assignPositions). */
export async function commitEvent(ds: DataSource, event: EventEnvelope): Promise<EventEnvelope> {
  await transaction(ds, (tx) => appendEvent(tx, event));
  return event;
}
