// Sharded sequencing: a deposed lease holder cannot write; three relays share 8 shards under
// kill -9 of each, twice; one tenant's backlog does not hold another tenant's events back.
import { SchedulerRegistry } from '@nestjs/schedule';
import { buildEvent } from '@tidings/events';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { OutboxRelayConfig } from '../apps/outbox-relay/src/outbox-relay.config';
import { OutboxService, SequencingConnection } from '../apps/outbox-relay/src/relay/outbox.service';
import { RelayMetrics } from '../apps/outbox-relay/src/relay/relay-metrics.service';
import { LeaseLostError, ShardLeases } from '../apps/outbox-relay/src/relay/shard-leases.service';
import { eventually } from './support/eventually';
import { writeConcurrently, writeOrderEvent } from './support/event-writer';
import { kafkaBrokers } from './support/infra';
import { readTopics } from './support/kafka-reader';
import { expectComplete, expectOutboxDrained, expectPerResourceOrder, hasAll } from './support/relay-checks';
import { relaySetup } from './support/relay-harness';

const SHARDS = 8;

/** The relay harness with lease time compressed (a dead relay's shards move after ~1 s, not ~5 s) and 8 shards. */
async function setup() {
  const t = await relaySetup(kafkaBrokers(), { RELAY_SHARD_RENEW_MS: '200', RELAY_SHARD_LEASE_MS: '1000' });
  // The shard count is the number of relay_shards rows; with an empty outbox it may simply be changed
  // (docs/architecture.md, "Shards": rebalancing).
  await t.ds.query('DELETE FROM relay_shards WHERE shard >= $1', [SHARDS]);
  return {
    ...t,
    /** shard → holder, for the shards whose lease is current. */
    holders: async () =>
      (await t.ds.query(
        `SELECT shard, holder FROM relay_shards WHERE holder IS NOT NULL AND lease_until > now() ORDER BY shard`,
      )) as { shard: number; holder: string }[],
  };
}

function leasesFor(ds: DataSource, url: string) {
  const config = { DATABASE_URL: url, RELAY_SHARD_LEASE_MS: 3_000, RELAY_SHARD_RENEW_MS: 1_000 };
  return new ShardLeases(
    config as OutboxRelayConfig,
    ds,
    new SchedulerRegistry(),
    new RelayMetrics(new Registry()),
  );
}

describe('sharded sequencing', () => {
  it('fences a deposed lease holder: it writes no position once another relay took the shard', async () => {
    const t = await setup();
    const url = t.env.DATABASE_URL;
    const first = leasesFor(t.ds, url);
    const second = leasesFor(t.ds, url);
    const outbox = new OutboxService();
    const [firstDb, secondDb] = [new SequencingConnection(url), new SequencingConnection(url)];
    try {
      await first.maintain();
      const held = first.active();
      expect(held.map((l) => l.shard)).toEqual([...Array(SHARDS).keys()]);
      await writeOrderEvent(t.ds, 'ten_fence', 'ord_fence');
      const [{ shard }] = (await t.ds.query(`SELECT shard FROM outbox`)) as { shard: number }[];
      const stale = held.find((l) => l.shard === shard)!;
      // The first holder stops renewing (paused, partitioned): its lease ends and the second takes the shard.
      await t.ds.query(`UPDATE relay_shards SET lease_until = now() - interval '1 second'`);
      await t.ds.query(`UPDATE relay_members SET seen_until = now() - interval '1 second' WHERE id = $1`, [
        first.id,
      ]);
      await second.maintain();
      const taken = second.active().find((l) => l.shard === shard)!;
      expect(taken.token).toBe(stale.token + 1);

      // The deposed holder has not noticed: its sequencing transaction is refused and writes nothing.
      await expect(outbox.sequence(await firstDb.get(), stale, 100, () => undefined)).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      const [before] = (await t.ds.query(
        `SELECT count(*) FILTER (WHERE position IS NOT NULL)::int AS positioned FROM event_log`,
      )) as { positioned: number }[];
      expect(before.positioned).toBe(0);
      // The new holder sequences the event; the old one's renewal is refused and it forgets the shard.
      expect(await outbox.sequence(await secondDb.get(), taken, 100, () => undefined)).toBe(1);
      await first.maintain();
      expect(first.active().some((l) => l.shard === shard)).toBe(false);
    } finally {
      await first.stop();
      await second.stop();
      await firstDb.drop();
      await secondDb.drop();
      await t.teardown();
    }
  });

  it('three relays share 8 shards under kill -9 of each, twice: nothing lost, per-tenant positions dense', async () => {
    const t = await setup();
    try {
      let relays = await Promise.all([t.spawnRelay(), t.spawnRelay(), t.spawnRelay()]);
      const pidOf = (holder: string) => Number(holder.split('-').at(-2));
      // Fair share: 3 + 3 + 2, every shard held.
      const fairlyShared = () =>
        eventually(
          async () => {
            const holders = await t.holders();
            expect(holders).toHaveLength(SHARDS);
            const counts = relays.map((r) => holders.filter((h) => pidOf(h.holder) === r.pid).length);
            expect(counts.sort()).toEqual([2, 3, 3]);
          },
          { timeoutMs: 60_000 },
        );
      await fairlyShared();

      // Six tenants keep writing while relays die and come back.
      const tenants = Array.from({ length: 6 }, (_, i) => `ten_shard${i}`);
      const written: { eventId: string }[] = [];
      let writing = true;
      const writers = tenants.map(async (tenantId, i) => {
        while (writing)
          written.push(...(await writeConcurrently(t.ds, tenantId, [`ord_${i}a`, `ord_${i}b`], 10, 2)));
      });

      const takeovers: number[] = [];
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < relays.length; i++) {
          // Three relays up and holding their share, then one dies; its replacement boots meanwhile.
          await fairlyShared();
          const victim = relays[i];
          const killedAt = Date.now();
          await victim.kill('SIGKILL');
          relays = [...relays];
          relays[i] = await t.spawnRelay({}, { waitForLive: false });
          // Taken over: every shard held again, none of them by the dead relay.
          await eventually(
            async () => {
              const holders = await t.holders();
              expect(holders).toHaveLength(SHARDS);
              expect(holders.filter((h) => pidOf(h.holder) === victim.pid)).toEqual([]);
            },
            { timeoutMs: 30_000, intervalMs: 20 },
          );
          takeovers.push(Date.now() - killedAt);
        }
      }
      writing = false;
      await Promise.all(writers);
      console.log(
        `relay shard takeover after kill -9 (lease ${t.env.RELAY_SHARD_LEASE_MS} ms, renew ${t.env.RELAY_SHARD_RENEW_MS} ms): ` +
          `${takeovers.join(', ')} ms; ${written.length} events written meanwhile`,
      );

      const records = await readTopics(kafkaBrokers(), t.topics, hasAll(written), 120_000);
      expectComplete(records, written);
      expectPerResourceOrder(records);
      await expectOutboxDrained(t.ds);
    } finally {
      await t.teardown();
    }
  }, 300_000);

  it("publishes another tenant's events while one tenant's 200,000-event backlog drains", async () => {
    const t = await setup();
    try {
      const burst = 'ten_burst';
      const [{ burstShard }] = (await t.ds.query(`SELECT tidings_shard($1) AS "burstShard"`, [burst])) as {
        burstShard: number;
      }[];
      let quiet = '';
      for (let i = 0; !quiet; i++) {
        const [{ s }] = (await t.ds.query(`SELECT tidings_shard($1) AS s`, [`ten_quiet${i}`])) as {
          s: number;
        }[];
        if (s !== burstShard) quiet = `ten_quiet${i}`;
      }
      await t.startRelay();
      // Tenant A commits 200,000 events in one transaction (event_log + outbox, as appendEvent writes them).
      const sample = buildEvent({
        eventType: 'order.updated',
        tenantId: burst,
        resourceId: 'ord_burst',
        sequence: 1,
        source: 'tidings/test',
        data: { orderId: 'ord_burst', changes: { notes: 'burst' } },
      });
      await t.ds.query(
        `WITH e AS (
           INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence,
                                  source, occurred_at, data)
           SELECT gen_random_uuid(), $1, $2, $3, 'order', 'ord_burst' || (i % 1000), i / 1000 + 1, 'tidings/test',
                  now(), jsonb_build_object('orderId', 'ord_burst' || (i % 1000), 'changes', jsonb_build_object('notes', 'burst ' || i))
             FROM generate_series(0, 199999) AS i
            ORDER BY i
           RETURNING id, tenant_id)
         INSERT INTO outbox (event_log_id, tenant_id, shard) SELECT id, tenant_id, tidings_shard(tenant_id) FROM e`,
        [burst, sample.eventType, sample.version],
      );
      // Tenant B then commits 100 events, one transaction each.
      const committed = new Map<string, number>();
      for (let i = 0; i < 100; i++) {
        const w = await writeOrderEvent(t.ds, quiet, `ord_quiet${i % 5}`);
        committed.set(w.eventId, Date.now());
      }
      const rows = await eventually(
        async () => {
          const list = (await t.ds.query(
            `SELECT e.event_id, extract(epoch FROM o.published_at) * 1000 AS published
               FROM outbox o JOIN event_log e ON e.id = o.event_log_id WHERE o.tenant_id = $1`,
            [quiet],
          )) as { event_id: string; published: string | null }[];
          expect(list.filter((r) => r.published === null)).toEqual([]);
          return list;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      // All of B is out while A still has a backlog: B never waited for A to drain.
      const [{ left }] = (await t.ds.query(
        `SELECT count(*)::int AS left FROM outbox WHERE tenant_id = $1 AND published_at IS NULL`,
        [burst],
      )) as { left: number }[];
      const [{ lastA }] = (await t.ds.query(
        `SELECT extract(epoch FROM max(published_at)) * 1000 AS "lastA" FROM outbox WHERE tenant_id = $1`,
        [burst],
      )) as { lastA: string | null }[];
      const lastB = Math.max(...rows.map((r) => Number(r.published)));
      expect(left > 0 || Number(lastA) > lastB).toBe(true);
      const latencies = rows
        .map((r) => Number(r.published) - committed.get(r.event_id)!)
        .sort((a, b) => a - b);
      const pct = (p: number) =>
        latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
      console.log(
        `fairness: tenant B's 100 events during tenant A's 200,000-event drain: commit→published ` +
          `p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms; ` +
          `A still had ${left} events unpublished when B was done`,
      );
    } finally {
      await t.teardown();
    }
  }, 300_000);
});
