import { appendEvent, transaction } from '@tidings/db';
import {
  buildEvent,
  type EventData,
  type EventEnvelope,
  type KnownEventType,
  resourceTypeOf,
} from '@tidings/events';
import type { DataSource } from 'typeorm';

/**
 * Appends the next event of `resourceId` the way the API does: the resource is locked for the transaction (an
 * advisory lock stands in for its row lock), the next sequence is read under that lock, and the event
 * (`data` of that sequence) is appended in the same transaction. `fail` rolls the transaction back afterwards.
 */
export async function appendNextEvent<T extends KnownEventType>(
  ds: DataSource,
  tenantId: string,
  eventType: T,
  resourceId: string,
  data: (sequence: number) => EventData<T>,
  opts: { fail?: boolean } = {},
): Promise<EventEnvelope<EventData<T>>> {
  return transaction(ds, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [resourceId]);
    const [{ next }] = (await tx.query(
      'SELECT COALESCE(max(sequence), 0) + 1 AS next FROM event_log WHERE resource_type = $1 AND resource_id = $2',
      [resourceTypeOf(eventType), resourceId],
    )) as { next: number }[];
    const sequence = Number(next);
    const event = buildEvent<T>({
      eventType,
      tenantId,
      resourceId,
      sequence,
      source: 'tidings/test',
      data: data(sequence),
    });
    await appendEvent(tx, event);
    if (opts.fail) throw new Error('rolled back on purpose');
    return event;
  });
}

/** Appends the next `order.updated` of `orderId` (appendNextEvent); each change is distinct. */
export async function writeOrderEvent(
  ds: DataSource,
  tenantId: string,
  orderId: string,
  opts: { fail?: boolean } = {},
): Promise<{ eventId: string; sequence: number }> {
  const event = await appendNextEvent(
    ds,
    tenantId,
    'order.updated',
    orderId,
    (n) => ({ orderId, changes: { notes: `change ${n}` } }),
    opts,
  );
  return { eventId: event.eventId, sequence: event.sequence };
}

/** Runs `total` writes over `orders` resources with `concurrency` writers in parallel. */
export async function writeConcurrently(
  ds: DataSource,
  tenantId: string,
  orders: string[],
  total: number,
  concurrency: number,
): Promise<{ eventId: string; sequence: number; orderId: string }[]> {
  const written: { eventId: string; sequence: number; orderId: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const orderId = orders[next++ % orders.length];
        written.push({ ...(await writeOrderEvent(ds, tenantId, orderId)), orderId });
      }
    }),
  );
  return written;
}

/**
 * Appends a message's `message.received` (sequence 1) and, with `deleted`, its `message.deleted` (sequence 2),
 * each in its own transaction, as the API does. `body` is what `POST /messages` accepts: up to 64 KiB of UTF-8.
 */
export async function writeMessageEvents(
  ds: DataSource,
  tenantId: string,
  messageId: string,
  body: string,
  opts: { deleted?: boolean } = {},
): Promise<{ eventId: string; sequence: number; messageId: string }[]> {
  const received = buildEvent({
    eventType: 'message.received',
    tenantId,
    resourceId: messageId,
    sequence: 1,
    source: 'tidings/test',
    data: { messageId, from: 'alice@example.com', channel: 'support', body, metadata: {} },
  });
  await transaction(ds, (tx) => appendEvent(tx, received));
  const written = [{ eventId: received.eventId, sequence: 1, messageId }];
  if (opts.deleted) {
    const deleted = buildEvent({
      eventType: 'message.deleted',
      tenantId,
      resourceId: messageId,
      sequence: 2,
      source: 'tidings/test',
      data: { messageId, deletedAt: new Date().toISOString() },
    });
    await transaction(ds, (tx) => appendEvent(tx, deleted));
    written.push({ eventId: deleted.eventId, sequence: 2, messageId });
  }
  return written;
}
