import {
  createDataSource,
  NoTransactionError,
  onEventsCommitted,
  transaction,
  writeWithEvent,
} from '@tidings/db';
import type { DataSource } from 'typeorm';
import { orderCreatedEvent } from '../../../test/support/factories/events';
import { createTestDatabase } from '../../../test/support/infra';

const TENANT = 'ten_outbox_write';

async function setup() {
  const db = await createTestDatabase();
  const ds: DataSource = createDataSource(db.url, 3);
  await ds.initialize();
  const committed: string[][] = [];
  onEventsCommitted(ds, (types) => committed.push([...types]));
  // A minimal row write: the orders table with the columns it requires.
  const insertOrder = (id: string) => ({
    sql: `INSERT INTO orders (id, tenant_id, customer_id, currency, items, total_minor, status, metadata, version)
          VALUES ($1, $2, 'cus_1', 'EUR', '[]', 0, 'pending', '{}', 1) RETURNING id, version`,
    params: [id, TENANT],
  });
  const count = async (table: 'orders' | 'event_log' | 'outbox') =>
    Number(((await ds.query(`SELECT count(*) AS n FROM ${table}`)) as { n: string }[])[0].n);
  return {
    ds,
    committed,
    insertOrder,
    count,
    teardown: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

describe('writeWithEvent', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(() => t.teardown());

  it('writes the row, its event and its outbox row in one statement on the DataSource, and returns the row', async () => {
    const event = orderCreatedEvent({ tenantId: TENANT, orderId: 'ord_one_statement' });
    const before = t.committed.length;
    const rows = await writeWithEvent(t.ds, t.insertOrder('ord_one_statement'), event);
    expect(rows).toEqual([{ id: 'ord_one_statement', version: 1 }]);
    const [stored] = (await t.ds.query(
      `SELECT e.event_type, e.resource_id, o.shard IS NOT NULL AS sharded
         FROM event_log e JOIN outbox o ON o.event_log_id = e.id WHERE e.event_id = $1`,
      [event.eventId],
    )) as { event_type: string; resource_id: string; sharded: boolean }[];
    expect(stored).toEqual({ event_type: 'order.created', resource_id: 'ord_one_statement', sharded: true });
    expect(t.committed.slice(before)).toEqual([['order.created']]);
  });

  it('writes neither the row nor the event when the event cannot be appended', async () => {
    const event = orderCreatedEvent({ tenantId: TENANT, orderId: 'ord_dup_event' });
    await writeWithEvent(t.ds, t.insertOrder('ord_dup_event'), event);
    const counts = [await t.count('orders'), await t.count('event_log'), await t.count('outbox')];
    const before = t.committed.length;
    // The same event id again: event_log's unique key refuses it, and the statement with it.
    await expect(writeWithEvent(t.ds, t.insertOrder('ord_not_written'), event)).rejects.toThrow(
      /duplicate key/,
    );
    expect([await t.count('orders'), await t.count('event_log'), await t.count('outbox')]).toEqual(counts);
    expect(t.committed.length).toBe(before);
  });

  it('in a transaction, is part of it: reported at its commit, never when it rolls back', async () => {
    const before = t.committed.length;
    await expect(
      transaction(t.ds, async (tx) => {
        await writeWithEvent(
          tx,
          t.insertOrder('ord_rolled_back'),
          orderCreatedEvent({ tenantId: TENANT, orderId: 'ord_rolled_back' }),
        );
        throw new Error('rolled back on purpose');
      }),
    ).rejects.toThrow('rolled back on purpose');
    expect(await t.ds.query(`SELECT id FROM orders WHERE id = 'ord_rolled_back'`)).toEqual([]);
    expect(t.committed.length).toBe(before);
    await transaction(t.ds, async (tx) => {
      await writeWithEvent(
        tx,
        t.insertOrder('ord_in_tx'),
        orderCreatedEvent({ tenantId: TENANT, orderId: 'ord_in_tx' }),
      );
      expect(t.committed.length).toBe(before);
    });
    expect(t.committed.slice(before)).toEqual([['order.created']]);
  });

  it('refuses an EntityManager outside a transaction', async () => {
    await expect(
      writeWithEvent(
        t.ds.manager as never,
        t.insertOrder('ord_no_tx'),
        orderCreatedEvent({ tenantId: TENANT, orderId: 'ord_no_tx' }),
      ),
    ).rejects.toThrow(NoTransactionError);
  });
});
