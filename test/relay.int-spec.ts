import { createDataSource } from '@tidings/db';
import { allEventTopics } from '@tidings/events';
import { createApp } from '@tidings/runtime';
import type { INestApplication } from '@nestjs/common';
import { OutboxRelayModule } from '../apps/outbox-relay/src/outbox-relay.module';
import type { OutboxRelayConfig } from '../apps/outbox-relay/src/outbox-relay.config';
import { startAppProcess, type AppProcess } from './support/app-process';
import { eventually } from './support/eventually';
import { writeConcurrently, writeOrderEvent } from './support/event-writer';
import {
  createTestDatabase,
  ensureTestTopics,
  kafkaBrokers,
  startDedicatedKafka,
  testTopicPrefix,
} from './support/infra';
import { readTopics, type ReadRecord } from './support/kafka-reader';
import { freePort } from '../scripts/infra/ports';

const TENANT = 'ten_relay';
const OTHER = 'ten_relay_other';

async function setup(brokers = kafkaBrokers()) {
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, allEventTopics(''), 6).catch(async (e) => {
    if (brokers === kafkaBrokers()) throw e;
  });
  const ds = createDataSource(db.url, 20);
  await ds.initialize();
  const env = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    RELAY_LEADER_RETRY_MS: '200',
  };
  const apps: INestApplication[] = [];
  const processes: AppProcess[] = [];
  return {
    ds,
    prefix,
    env,
    topics: allEventTopics(prefix),
    startRelay: async (extra: Record<string, string> = {}) => {
      const { app } = await createApp<OutboxRelayConfig>(
        () => OutboxRelayModule.forRoot({ ...env, RELAY_PORT: '0', ...extra }),
        {
          app: 'outbox-relay',
          port: (c) => c.RELAY_PORT,
        },
      );
      apps.push(app);
      return app;
    },
    spawnRelay: async (extra: Record<string, string> = {}, opts: { waitForLive?: boolean } = {}) => {
      const port = await freePort();
      const p = await startAppProcess(
        'outbox-relay',
        { ...env, RELAY_PORT: String(port), ...extra },
        port,
        opts,
      );
      processes.push(p);
      return p;
    },
    teardown: async () => {
      for (const p of processes) await p.kill('SIGKILL');
      for (const a of apps) await a.close();
      await ds.destroy();
      await db.drop();
    },
  };
}

/**
 * Every committed event reached Kafka; duplicates carry the same eventId and position; each tenant's
 * positions are dense (1..N, unique).
 */
function expectComplete(records: ReadRecord[], written: { eventId: string }[]): void {
  const byId = new Map<string, { tenantId: string; position: number }>();
  for (const r of records) {
    const seen = byId.get(r.event.eventId);
    if (seen !== undefined) expect(r.event.position).toBe(seen.position);
    byId.set(r.event.eventId, { tenantId: r.event.tenantId, position: r.event.position! });
  }
  expect(new Set(written.map((w) => w.eventId))).toEqual(new Set(byId.keys()));
  const byTenant = new Map<string, number[]>();
  for (const { tenantId, position } of byId.values())
    byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), position]);
  for (const positions of byTenant.values()) {
    positions.sort((a, b) => a - b);
    expect(positions).toEqual(positions.map((_, i) => i + 1));
  }
}

/** Per key: one partition, sequences 1..n in offset order (duplicates of a redelivery aside). */
function expectPerResourceOrder(records: ReadRecord[]): void {
  const byKey = new Map<string, ReadRecord[]>();
  for (const r of records) byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), r]);
  for (const list of byKey.values()) {
    expect(new Set(list.map((r) => `${r.topic}/${r.partition}`)).size).toBe(1);
    const sorted = [...list].sort((a, b) => a.offset - b.offset);
    const firstSeen: number[] = [];
    for (const r of sorted) if (!firstSeen.includes(r.event.sequence)) firstSeen.push(r.event.sequence);
    expect(firstSeen).toEqual(firstSeen.map((_, i) => i + 1));
  }
}

const hasAll = (written: { eventId: string }[]) => (records: ReadRecord[]) => {
  const ids = new Set(records.map((r) => r.event.eventId));
  return written.every((w) => ids.has(w.eventId));
};

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
        await eventually(async () => {
          const [{ pending }] = (await t.ds.query(
            'SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL',
          )) as { pending: number }[];
          expect(pending).toBe(0);
        });
      } finally {
        await t.teardown();
      }
    },
    120_000,
  );

  it('runs one leader among two relays and hands over when it is killed', async () => {
    const t = await setup();
    try {
      const first = await t.spawnRelay();
      const second = await t.spawnRelay();
      const before = await writeConcurrently(t.ds, TENANT, ['ord_x', 'ord_y'], 100, 4);
      await readTopics(kafkaBrokers(), t.topics, hasAll(before));
      const leaderGauge = async (p: AppProcess) => {
        const text = await (await fetch(`${p.url}/metrics`)).text();
        return Number(/^tidings_relay_leader\{[^}]*\} (\d)/m.exec(text)?.[1] ?? '0');
      };
      const gauges = [await leaderGauge(first), await leaderGauge(second)];
      expect(gauges.sort()).toEqual([0, 1]);
      const [leader, standby] = (await leaderGauge(first)) === 1 ? [first, second] : [second, first];
      await leader.kill('SIGKILL');
      const after = await writeConcurrently(t.ds, TENANT, ['ord_x', 'ord_y'], 100, 4);
      const records = await readTopics(kafkaBrokers(), t.topics, hasAll([...before, ...after]));
      expect(await leaderGauge(standby)).toBe(1);
      expectComplete(records, [...before, ...after]);
      expectPerResourceOrder(records);
    } finally {
      await t.teardown();
    }
  }, 120_000);

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
