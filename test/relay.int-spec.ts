import { eventually } from './support/eventually';
import { writeConcurrently, writeOrderEvent } from './support/event-writer';
import { kafkaBrokers, startDedicatedKafka } from './support/infra';
import { readTopics } from './support/kafka-reader';
import { expectComplete, expectOutboxDrained, expectPerResourceOrder, hasAll } from './support/relay-checks';
import { relaySetup as setup } from './support/relay-harness';

const TENANT = 'ten_relay';
const OTHER = 'ten_relay_other';

describe('outbox relay', () => {
  it("publishes every event of two tenants' concurrent writers in per-resource order, each tenant's positions dense", async () => {
    const t = await setup();
    try {
      await t.startRelay();
      // Two tenants write at the same time: each one's positions are 1..N on its own, with no hole left by
      // the other's events (a global counter would show tenant A positions like 9, 10, 16).
      const [a, b] = await Promise.all([
        writeConcurrently(
          t.ds,
          TENANT,
          Array.from({ length: 150 }, (_, i) => `ord_a${i}`),
          750,
          6,
        ),
        writeConcurrently(
          t.ds,
          OTHER,
          Array.from({ length: 150 }, (_, i) => `ord_b${i}`),
          750,
          6,
        ),
      ]);
      const written = [...a, ...b];
      await eventually(
        async () => {
          const [row] = (await t.ds.query(
            'SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS pending, count(*)::int AS total FROM outbox',
          )) as { pending: number; total: number }[];
          expect(row).toEqual({ pending: 0, total: 1500 });
        },
        { timeoutMs: 30_000 },
      );
      const records = await readTopics(kafkaBrokers(), t.topics, hasAll(written));
      expectComplete(records, written);
      expectPerResourceOrder(records);
      // Fault-free run: no duplicates, and each tenant's positions increase in publish order within every
      // partition.
      expect(records).toHaveLength(written.length);
      for (const p of new Set(records.map((r) => r.partition)))
        for (const tenantId of [TENANT, OTHER]) {
          const positions = records
            .filter((r) => r.partition === p && r.event.tenantId === tenantId)
            .sort((x, y) => x.offset - y.offset)
            .map((r) => r.event.position!);
          expect(positions).toEqual([...positions].sort((x, y) => x - y));
        }
      const [heads] = (await t.ds.query(
        `SELECT json_object_agg(tenant_id, last_position::int) AS heads FROM tenant_positions`,
      )) as { heads: Record<string, number> }[];
      expect(heads.heads).toEqual({ [TENANT]: 750, [OTHER]: 750 });
    } finally {
      await t.teardown();
    }
  });

  it('never publishes a rolled-back event', async () => {
    const t = await setup();
    try {
      await t.startRelay();
      const rolledBack = await writeOrderEvent(t.ds, TENANT, 'ord_rb', { fail: true }).catch(() => undefined);
      expect(rolledBack).toBeUndefined();
      const [{ count }] = (await t.ds.query(
        `SELECT count(*)::int AS count FROM event_log WHERE resource_id = 'ord_rb'`,
      )) as { count: number }[];
      expect(count).toBe(0);
      const committed = await writeOrderEvent(t.ds, TENANT, 'ord_rb');
      const records = await readTopics(kafkaBrokers(), t.topics, hasAll([committed]));
      expect(records.map((r) => r.event.eventId)).toEqual([committed.eventId]);
      expect(records[0].event.sequence).toBe(1);
    } finally {
      await t.teardown();
    }
  });

  it.each(['before-position-commit', 'after-position-commit', 'after-produce'])(
    'loses nothing when killed with SIGKILL %s',
    async (point) => {
      const t = await setup();
      try {
        const written = await writeConcurrently(t.ds, TENANT, ['ord_a', 'ord_b', 'ord_c', 'ord_d'], 200, 4);
        // It may crash before it answers /health/live: the relay starts working before it listens.
        const crashing = await t.spawnRelay(
          { RELAY_BATCH_SIZE: '40', RELAY_FAULT_INJECTION: `${point}:2` },
          { waitForLive: false },
        );
        const { signal } = await crashing.exited;
        expect(signal).toBe('SIGKILL');
        await t.spawnRelay({ RELAY_BATCH_SIZE: '40' });
        const records = await readTopics(kafkaBrokers(), t.topics, hasAll(written));
        expectComplete(records, written);
        expectPerResourceOrder(records);
        await expectOutboxDrained(t.ds);
      } finally {
        await t.teardown();
      }
    },
    120_000,
  );

  it('keeps accepting writes while Kafka is down and drains everything when it returns', async () => {
    const broker = await startDedicatedKafka();
    const t = await setup(broker.brokers);
    try {
      const { ensureTopics } = await import('../scripts/infra/topics');
      await ensureTopics(broker.brokers, t.topics, 3);
      await t.startRelay();
      const before = await writeConcurrently(t.ds, TENANT, ['ord_k1', 'ord_k2', 'ord_k3'], 60, 3);
      await readTopics(broker.brokers, t.topics, hasAll(before));
      // kill(), not stop(): the dedicated broker's stop() also deletes its data, and a crash is the harsher outage.
      await broker.kill();
      const during = await writeConcurrently(t.ds, TENANT, ['ord_k1', 'ord_k2', 'ord_k3'], 150, 3);
      const [{ backlog }] = (await t.ds.query(
        'SELECT count(*)::int AS backlog FROM outbox WHERE published_at IS NULL',
      )) as { backlog: number }[];
      expect(backlog).toBeGreaterThan(0);
      await broker.start();
      const records = await readTopics(broker.brokers, t.topics, hasAll([...before, ...during]), 90_000);
      expectComplete(records, [...before, ...during]);
      expectPerResourceOrder(records);
    } finally {
      await t.teardown();
      await broker.dispose();
    }
  }, 180_000);
});
