import { appendEvent, transaction } from '@tidings/db';
import { buildEvent, type EventEnvelope } from '@tidings/events';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** An `order.created` (latest version) of a new pending order: two items, 25.00 EUR, as the API emits it. */
export function orderCreatedEvent(
  opts: { tenantId: string; orderId?: string; source?: string },
  data: Record<string, unknown> = {},
): EventEnvelope {
  const orderId = opts.orderId ?? `ord_${randomUUID()}`;
  return buildEvent({
    eventType: 'order.created',
    tenantId: opts.tenantId,
    resourceId: orderId,
    sequence: 1,
    source: opts.source ?? 'tidings/api',
    data: {
      orderId,
      customer: { id: 'cus_1' },
      currency: 'EUR',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceMinor: 1250 }],
      totalMinor: 2500,
      status: 'pending',
      notes: null,
      metadata: {},
      ...data,
    },
  });
}

/** Commits `event` through the outbox in its own transaction (unpositioned until a relay or the sequencer runs). */
export async function commitEvent(ds: DataSource, event: EventEnvelope): Promise<EventEnvelope> {
  await transaction(ds, (tx) => appendEvent(tx, event));
  return event;
}
