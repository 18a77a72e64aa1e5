import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import type { DataSource } from 'typeorm';

/**
 * Appends an `order.updated` event for `orderId` the way the API does: the resource is locked for the
 * transaction (an advisory lock stands in for the order row lock), the next sequence is read under that
 * lock, and the event is appended in the same transaction. `fail` rolls the transaction back afterwards.
 */
export async function writeOrderEvent(
  ds: DataSource,
  tenantId: string,
  orderId: string,
  opts: { fail?: boolean } = {},
): Promise<{ eventId: string; sequence: number }> {
  return transaction(ds, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [orderId]);
    const [{ next }] = (await tx.query(
      `SELECT COALESCE(max(sequence), 0) + 1 AS next FROM event_log WHERE resource_type = 'order' AND resource_id = $1`,
      [orderId],
    )) as { next: number }[];
    const event = buildEvent({
      eventType: 'order.updated',
      tenantId,
      resourceId: orderId,
      sequence: Number(next),
      source: 'tidings/test',
      data: { orderId, changes: { notes: `change ${next}` } },
    });
    await appendEvent(tx, event);
    if (opts.fail) throw new Error('rolled back on purpose');
    return { eventId: event.eventId, sequence: event.sequence };
  });
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
