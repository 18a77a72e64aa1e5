import type { INestApplication } from '@nestjs/common';
import { appendEvent, createDataSource, type Tx } from '@tidings/db';
import { allEventTopics, buildEvent } from '@tidings/events';
import { createApp } from '@tidings/runtime';
import type { DataSource } from 'typeorm';
import type { OutboxRelayConfig } from '../apps/outbox-relay/src/outbox-relay.config';
import { OutboxRelayModule } from '../apps/outbox-relay/src/outbox-relay.module';
import { eventually } from './support/eventually';
import { writeConcurrently } from './support/event-writer';
import { createTestDatabase, ensureTestTopics, kafkaBrokers, testTopicPrefix } from './support/infra';
import { readTopics } from './support/kafka-reader';

const TENANT = 'ten_relay_hk';

async function setup(extra: Record<string, string> = {}) {
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, allEventTopics(''), 3);
  const ds: DataSource = createDataSource(db.url, 5);
  await ds.initialize();
  const { app, url } = await createApp<OutboxRelayConfig>(
    () =>
      OutboxRelayModule.forRoot({
        DATABASE_URL: db.url,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'error',
        RELAY_PORT: '0',
        RELAY_SHARD_RENEW_MS: '100',
        RELAY_BACKLOG_REFRESH_MS: '100',
        ...extra,
      }),
    { app: 'outbox-relay', port: (c) => c.RELAY_PORT },
  );
  const metric = async (name: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`${name} is not exported`);
    return Number(value);
  };
  const lockBackend = async () => {
    const rows = (await ds.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'tidings-relay-sequencer' AND datname = current_database()`,
    )) as { pid: number }[];
    return rows.map((r) => r.pid);
  };
  const apps: INestApplication[] = [app];
  return {
    ds,
    prefix,
    metric,
    lockBackend,
    topics: allEventTopics(prefix),
    teardown: async () => {
      for (const a of apps) await a.close();
      await ds.destroy();
      await db.drop();
    },
  };
}

function orderUpdated(orderId: string, sequence: number) {
  return buildEvent({
    eventType: 'order.updated',
    tenantId: TENANT,
    resourceId: orderId,
    sequence,
    source: 'tidings/test',
    data: { orderId, changes: { notes: `change ${sequence}` } },
  });
}

describe('outbox relay (in-process)', () => {
  it('positions an event that commits after a later-inserted one next, keeping positions dense', async () => {
    const t = await setup();
    try {
      // A inserts first (lower id) but commits last; B, another resource, inserts and commits in between.
      const a = t.ds.createQueryRunner();
      await a.connect();
      await a.startTransaction();
      const eventA = orderUpdated('ord_slow', 1);
      await appendEvent(a.manager as Tx, eventA);
      const eventB = orderUpdated('ord_fast', 1);
      await t.ds.transaction((tx) => appendEvent(tx as Tx, eventB));

      const positionOf = async (eventId: string) => {
        const [row] = (await t.ds.query('SELECT id, position FROM event_log WHERE event_id = $1', [
          eventId,
        ])) as { id: string; position: string | null }[];
        return { id: Number(row.id), position: row.position === null ? null : Number(row.position) };
      };
      await eventually(async () => expect((await positionOf(eventB.eventId)).position).toBe(1));

      await a.commitTransaction();
      await a.release();
      await eventually(async () => expect((await positionOf(eventA.eventId)).position).toBe(2));
      expect((await positionOf(eventA.eventId)).id).toBeLessThan((await positionOf(eventB.eventId)).id);

      const records = await readTopics(kafkaBrokers(), t.topics, (rs) => rs.length >= 2);
      expect(
        records.map((r) => [r.event.eventId, r.event.position]).sort((x, y) => Number(x[1]) - Number(y[1])),
      ).toEqual([
        [eventB.eventId, 1],
        [eventA.eventId, 2],
      ]);
    } finally {
      await t.teardown();
    }
  });

  it('keeps its shards and keeps publishing when its sequencing connection dies', async () => {
    const t = await setup();
    try {
      await eventually(async () => expect(await t.metric('tidings_relay_shards_held')).toBe(64));
      const [first] = await eventually(async () => {
        const backends = await t.lockBackend();
        expect(backends).toHaveLength(1);
        return backends;
      });
      const before = await writeConcurrently(t.ds, TENANT, ['ord_l1', 'ord_l2'], 20, 2);

      await t.ds.query('SELECT pg_terminate_backend($1)', [first]);
      await eventually(async () => {
        const backends = await t.lockBackend();
        expect(backends).toHaveLength(1);
        expect(backends[0]).not.toBe(first);
      });
      // The leases are rows, not the session: losing the connection costs no shard.
      expect(await t.metric('tidings_relay_shards_held')).toBe(64);

      const after = await writeConcurrently(t.ds, TENANT, ['ord_l1', 'ord_l2'], 20, 2);
      const wanted = new Set([...before, ...after].map((w) => w.eventId));
      const records = await readTopics(kafkaBrokers(), t.topics, (rs) =>
        [...wanted].every((id) => rs.some((r) => r.event.eventId === id)),
      );
      const positions = [...new Map(records.map((r) => [r.event.eventId, r.event.position!])).values()];
      expect(positions.sort((a, b) => a - b)).toEqual(positions.map((_, i) => i + 1));
    } finally {
      await t.teardown();
    }
  });

  it('deletes published outbox rows past retention and never touches the event log', async () => {
    const t = await setup({ RELAY_RETENTION_MINUTES: '0', RELAY_RETENTION_SWEEP_MS: '200' });
    try {
      await writeConcurrently(t.ds, TENANT, ['ord_r1', 'ord_r2', 'ord_r3'], 30, 3);
      await eventually(async () => {
        const [row] = (await t.ds.query(
          `SELECT (SELECT count(*)::int FROM outbox) AS outbox,
                  (SELECT count(*)::int FROM event_log WHERE position IS NOT NULL) AS positioned,
                  (SELECT count(*)::int FROM event_log) AS log`,
        )) as { outbox: number; positioned: number; log: number }[];
        expect(row).toEqual({ outbox: 0, positioned: 30, log: 30 });
      });
    } finally {
      await t.teardown();
    }
  });

  it('reports the backlog and the age of its oldest event', async () => {
    // A batch size of 1 and a long idle poll keep a backlog around long enough to observe.
    const t = await setup({
      RELAY_BATCH_SIZE: '1',
      RELAY_IDLE_POLL_MS: '60000',
    });
    try {
      await eventually(async () => expect(await t.metric('tidings_relay_leader')).toBe(1));
      await eventually(async () => expect(await t.metric('tidings_relay_backlog')).toBe(0));
      // The relay is now parked in its 60 s idle wait: what we write stays unpublished meanwhile.
      await writeConcurrently(t.ds, TENANT, ['ord_b1'], 5, 1);
      await eventually(async () => {
        expect(await t.metric('tidings_relay_backlog')).toBe(5);
        expect(await t.metric('tidings_relay_oldest_unpublished_age_seconds')).toBeGreaterThan(0);
      });
    } finally {
      await t.teardown();
    }
  });
});
