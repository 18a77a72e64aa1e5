import { appendEvent, type Tx } from '@tidings/db';
import { allEventTopics, buildEvent } from '@tidings/events';
import type { DataSource } from 'typeorm';
import { eventually } from './support/eventually';
import { writeConcurrently, writeOrderEvent } from './support/event-writer';
import { kafkaBrokers } from './support/infra';
import { readTopics } from './support/kafka-reader';
import { startPipeline } from './support/pipeline';

const TENANT = 'ten_relay_hk';

async function setup(extra: Record<string, string> = {}) {
  const pipeline = await startPipeline({ poolSize: 5, env: { DB_POOL_SIZE: '10' } });
  const { ds, prefix } = pipeline;
  const { url } = await pipeline.startRelay({
    RELAY_SHARD_RENEW_MS: '100',
    RELAY_BACKLOG_REFRESH_MS: '100',
    ...extra,
  });
  const metric = async (name: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`${name} is not exported`);
    return Number(value);
  };
  const backends = async (applicationName: string) => {
    const rows = (await ds.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
      [applicationName],
    )) as { pid: number }[];
    return rows.map((r) => r.pid);
  };
  const lockBackend = () => backends('tidings-relay-sequencer');
  const listenerBackend = () => backends('tidings-relay-listener');
  return {
    ds,
    prefix,
    metric,
    lockBackend,
    listenerBackend,
    topics: allEventTopics(prefix),
    teardown: pipeline.teardown,
  };
}

/**
 * Commits `n` order.updated events the way a writer outside libs/db would: no `transaction()`, so no NOTIFY
 * after the commit, and the relay finds them only at its next idle probe.
 */
async function insertWithoutWakeUp(ds: DataSource, orderId: string, n: number): Promise<string[]> {
  const rows = (await ds.query(
    `WITH e AS (
       INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence,
                              source, occurred_at, data)
       SELECT gen_random_uuid(), $1, 'order.updated', 1, 'order', $2, k, 'tidings/test', now(),
              jsonb_build_object('orderId', $2::text, 'changes', jsonb_build_object('notes', 'change ' || k))
         FROM generate_series(1, $3::int) k
       RETURNING id, tenant_id, event_id
     ), o AS (
       INSERT INTO outbox (event_log_id, tenant_id, shard) SELECT id, tenant_id, tidings_shard(tenant_id) FROM e
     )
     SELECT event_id FROM e`,
    [TENANT, orderId, n],
  )) as { event_id: string }[];
  return rows.map((r) => r.event_id);
}

/** How many of `eventIds` the relay has published (sent to Kafka and marked). */
async function publishedCount(ds: DataSource, eventIds: string[]): Promise<number> {
  const [{ n }] = (await ds.query(
    `SELECT count(*)::int AS n FROM outbox o JOIN event_log e ON e.id = o.event_log_id
      WHERE e.event_id = ANY($1::uuid[]) AND o.published_at IS NOT NULL`,
    [eventIds],
  )) as { n: number }[];
  return n;
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

  it('keeps its shards and keeps publishing when its sequencing connections die', async () => {
    const t = await setup();
    try {
      await eventually(async () => expect(await t.metric('tidings_relay_shards_held')).toBe(64));
      const before = await writeConcurrently(t.ds, TENANT, ['ord_l1', 'ord_l2'], 20, 2);
      // One sequencing connection per lane that has sequenced (RELAY_LANES): kill every one of them.
      const killed = await eventually(async () => {
        const backends = await t.lockBackend();
        expect(backends.length).toBeGreaterThanOrEqual(1);
        return backends;
      });
      for (const pid of killed) await t.ds.query('SELECT pg_terminate_backend($1)', [pid]);
      const after = await writeConcurrently(t.ds, TENANT, ['ord_l1', 'ord_l2'], 20, 2);
      await eventually(async () => {
        const backends = await t.lockBackend();
        expect(backends.length).toBeGreaterThanOrEqual(1);
        expect(backends.filter((pid) => killed.includes(pid))).toEqual([]);
      });
      // The leases are rows, not the session: losing the connection costs no shard.
      expect(await t.metric('tidings_relay_shards_held')).toBe(64);

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
      // The relay is now parked in its 60 s idle wait: what we write without a wake-up stays unpublished.
      await insertWithoutWakeUp(t.ds, 'ord_b1', 5);
      await eventually(async () => {
        expect(await t.metric('tidings_relay_backlog')).toBe(5);
        expect(await t.metric('tidings_relay_oldest_unpublished_age_seconds')).toBeGreaterThan(0);
      });
    } finally {
      await t.teardown();
    }
  });

  describe('wake-ups', () => {
    // RELAY_IDLE_POLL_MS of a minute: an event published within seconds was woken for, not polled for.
    const rarely = { RELAY_IDLE_POLL_MS: '60000' };

    it('publishes a commit at once although the idle relay probes only once a minute', async () => {
      const t = await setup(rarely);
      try {
        await eventually(async () => expect(await t.metric('tidings_relay_shards_held')).toBe(64));
        await eventually(async () => expect(await t.listenerBackend()).toHaveLength(1));
        await eventually(async () => expect(await t.metric('tidings_relay_backlog')).toBe(0));
        for (const orderId of ['ord_w1', 'ord_w2', 'ord_w3']) {
          const { eventId } = await writeOrderEvent(t.ds, TENANT, orderId);
          await eventually(async () => expect(await publishedCount(t.ds, [eventId])).toBe(1), {
            timeoutMs: 20_000,
          });
        }
      } finally {
        await t.teardown();
      }
    });

    it('listens again after its connection is killed, and is woken as before', async () => {
      const t = await setup(rarely);
      try {
        await eventually(async () => expect(await t.metric('tidings_relay_shards_held')).toBe(64));
        const [first] = await eventually(async () => {
          const pids = await t.listenerBackend();
          expect(pids).toHaveLength(1);
          return pids;
        });
        await t.ds.query('SELECT pg_terminate_backend($1)', [first]);
        await eventually(async () => {
          const pids = await t.listenerBackend();
          expect(pids).toHaveLength(1);
          expect(pids[0]).not.toBe(first);
        });
        const { eventId } = await writeOrderEvent(t.ds, TENANT, 'ord_w4');
        await eventually(async () => expect(await publishedCount(t.ds, [eventId])).toBe(1), {
          timeoutMs: 20_000,
        });
      } finally {
        await t.teardown();
      }
    });

    it('publishes events committed without a wake-up at its next idle probe (default interval)', async () => {
      const t = await setup();
      try {
        await eventually(async () => expect(await t.metric('tidings_relay_shards_held')).toBe(64));
        await eventually(async () => expect(await t.metric('tidings_relay_backlog')).toBe(0));
        const ids = await insertWithoutWakeUp(t.ds, 'ord_w5', 3);
        await eventually(async () => expect(await publishedCount(t.ds, ids)).toBe(3));
      } finally {
        await t.teardown();
      }
    });
  });
});
