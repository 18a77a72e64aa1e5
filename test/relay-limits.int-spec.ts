import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { allEventTopics, topicFor } from '@tidings/events';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { eventually } from './support/eventually';
import { writeMessageEvents, writeOrderEvent } from './support/event-writer';
import { kafkaBrokers } from './support/infra';
import { readTopics } from './support/kafka-reader';
import { startPipeline } from './support/pipeline';
import { hasAll } from './support/relay-checks';

type Written = Awaited<ReturnType<typeof writeMessageEvents>>[number];

const TENANT = 'ten_relay_bytes';
const OTHER = 'ten_relay_small';

/** 64 KiB of base64: the largest body POST /messages accepts, and as incompressible as such a body gets. */
const largeBody = () => randomBytes(49_152).toString('base64');

/** `messageTopicLimit` creates the message topic with that `max.message.bytes` (others get the broker's). */
async function setup(opts: { messageTopicLimit?: number } = {}) {
  const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  let messageTopic = '';
  const pipeline = await startPipeline({
    poolSize: 5,
    env: { DB_POOL_SIZE: '10' },
    createOwnTopics: async (prefix) => {
      messageTopic = topicFor('message', prefix);
      if (opts.messageTopicLimit !== undefined)
        await admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic: messageTopic,
              numPartitions: 3,
              configEntries: [{ name: 'max.message.bytes', value: String(opts.messageTopicLimit) }],
            },
          ],
        });
    },
  });
  const { ds, prefix } = pipeline;
  const relays: INestApplication[] = [];
  let url = '';
  const startRelay = async () => {
    const started = await pipeline.startRelay({
      RELAY_SHARD_RENEW_MS: '100',
      RELAY_BACKLOG_REFRESH_MS: '100',
    });
    relays.push(started.app);
    url = started.url;
  };
  /** A sample of `name` whose labels include `labels` (e.g. `cause="too_large"`); 0 when absent. */
  const metric = async (name: string, labels = '') => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  /** Outbox state of each event, by eventId. */
  const outboxRows = async () => {
    const rows = (await ds.query(
      `SELECT o.id::int AS id, e.event_id, e.tenant_id, o.seq::int AS seq, e.position::int AS position, o.published_at,
              o.parked_at, o.parked_reason
         FROM outbox o JOIN event_log e ON e.id = o.event_log_id ORDER BY o.seq`,
    )) as {
      id: number;
      event_id: string;
      tenant_id: string;
      seq: number;
      position: number;
      published_at: Date | null;
      parked_at: Date | null;
      parked_reason: string | null;
    }[];
    return rows;
  };
  return {
    ds,
    admin,
    messageTopic,
    topics: allEventTopics(prefix),
    startRelay,
    metric,
    outboxRows,
    stopRelays: async () => {
      for (const a of relays.splice(0)) await pipeline.close(a);
    },
    teardown: async () => {
      await pipeline.teardown();
      await admin.disconnect();
    },
  };
}

/** Each tenant's positions are 1..N, ascending in the relay's publish order (seq). */
function expectDensePerTenant(rows: { tenant_id: string; position: number }[]): void {
  const byTenant = new Map<string, number[]>();
  for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), r.position]);
  for (const positions of byTenant.values()) expect(positions).toEqual(positions.map((_, i) => i + 1));
}

describe('outbox relay under broker byte limits', () => {
  it('publishes a backlog of 300 messages of 64 KiB, in byte-bounded requests', async () => {
    const t = await setup();
    try {
      const written: Written[] = [];
      for (let i = 0; i < 300; i++)
        written.push(...(await writeMessageEvents(t.ds, TENANT, `msg_big${i}`, largeBody())));
      await t.startRelay();
      const records = await readTopics(kafkaBrokers(), t.topics, hasAll(written), 120_000);
      expect(new Set(records.map((r) => r.event.eventId))).toEqual(new Set(written.map((w) => w.eventId)));
      expect(records.every((r) => (r.event.data as { body: string }).body.length === 65_536)).toBe(true);
      const rows = await t.outboxRows();
      expectDensePerTenant(rows);
      expect(rows.filter((r) => r.published_at === null || r.parked_at !== null)).toEqual([]);
      // Sized from the limits the broker reports: not one request was refused.
      expect(await t.metric('tidings_relay_refused_too_large_total')).toBe(0);
      expect(await t.metric('tidings_relay_parked_total')).toBe(0);
    } finally {
      await t.teardown();
    }
  }, 180_000);

  it('parks an event too large for its topic with the reason, holds its resource behind it, and publishes everything else', async () => {
    const t = await setup({ messageTopicLimit: 32_768 });
    try {
      const before: Written[] = [];
      for (let i = 0; i < 5; i++)
        before.push(...(await writeMessageEvents(t.ds, TENANT, `msg_b${i}`, 'hello')));
      const [big, bigDeleted] = await writeMessageEvents(t.ds, TENANT, 'msg_huge', largeBody(), {
        deleted: true,
      });
      const after: Written[] = [];
      for (let i = 0; i < 5; i++)
        after.push(...(await writeMessageEvents(t.ds, TENANT, `msg_a${i}`, 'hello')));
      await t.startRelay();

      const records = await readTopics(kafkaBrokers(), t.topics, hasAll([...before, ...after]));
      expect(records.map((r) => r.event.eventId)).not.toContain(big.eventId);
      await eventually(async () => {
        const rows = await t.outboxRows();
        const byId = new Map(rows.map((r) => [r.event_id, r]));
        const huge = byId.get(big.eventId)!;
        expect(huge.parked_reason).toMatch(/^refused by Kafka as too large \(\d+ bytes of JSON\)/);
        expect(huge.published_at).toBeNull();
        expect(byId.get(bigDeleted.eventId)!.parked_reason).toBe(
          `held behind the parked event at position ${huge.position} of message/msg_huge`,
        );
        for (const w of [...before, ...after]) expect(byId.get(w.eventId)!.published_at).not.toBeNull();
        expect(await t.metric('tidings_relay_parked_total', 'cause="too_large"')).toBe(1);
        expect(await t.metric('tidings_relay_parked_total', 'cause="held"')).toBe(1);
        expect(await t.metric('tidings_relay_parked')).toBe(2);
        // Only the request holding the oversized event alone was refused.
        expect(await t.metric('tidings_relay_refused_too_large_total')).toBe(1);
        expect(await t.metric('tidings_relay_backlog')).toBe(0);
      });
      // Positions stay dense: the parked events keep theirs, between the published ones.
      expectDensePerTenant(await t.outboxRows());

      // The operator raises the topic's limit and restarts the relay, which retries parked events at once.
      await t.admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: t.messageTopic,
            configEntries: [{ name: 'max.message.bytes', value: '1048588' }],
          },
        ],
      });
      // The broker applies a topic's new config asynchronously: restart once it reports the new limit, or the
      // relay's retry on taking leadership may still be refused (and wait RELAY_PARKED_RETRY_MS, 10 min).
      await eventually(async () => {
        const { resources } = await t.admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            { type: ConfigResourceTypes.TOPIC, name: t.messageTopic, configNames: ['max.message.bytes'] },
          ],
        });
        expect(resources[0].configEntries[0].configValue).toBe('1048588');
      });
      await t.stopRelays();
      await t.startRelay();
      const all = await readTopics(kafkaBrokers(), t.topics, hasAll([big, bigDeleted]));
      const huge = all.filter((r) => r.key === 'msg_huge').sort((a, b) => a.offset - b.offset);
      expect(huge.map((r) => r.event.eventId)).toEqual([big.eventId, bigDeleted.eventId]);
      await eventually(async () => {
        expect((await t.outboxRows()).filter((r) => r.published_at === null)).toEqual([]);
        expect(await t.metric('tidings_relay_parked')).toBe(0);
      });
    } finally {
      await t.teardown();
    }
  }, 180_000);

  it("does not hold another tenant's small events back by more than one batch behind a burst of large ones", async () => {
    const t = await setup();
    try {
      const burst: Written[] = [];
      const small: { eventId: string }[] = [];
      for (let i = 0; i < 300; i++) {
        burst.push(...(await writeMessageEvents(t.ds, TENANT, `msg_burst${i}`, largeBody())));
        if (i % 30 === 29) small.push(await writeOrderEvent(t.ds, OTHER, `ord_small${i}`));
      }
      await t.startRelay();
      await readTopics(kafkaBrokers(), t.topics, hasAll([...burst, ...small]), 120_000);
      const rows = await eventually(async () => {
        const list = await t.outboxRows();
        expect(list.filter((r) => r.published_at === null)).toEqual([]);
        return list;
      });
      // Rows marked by one statement share published_at: its rank is the batch that published the row.
      const stamps = [...new Set(rows.map((r) => r.published_at!.getTime()))].sort((a, b) => a - b);
      const batchOf = (r: (typeof rows)[number]) => stamps.indexOf(r.published_at!.getTime());
      for (const s of rows.filter((r) => r.tenant_id === OTHER)) {
        // The burst event committed just before it (outbox id = insertion order; seqs of two shards do not compare).
        const lastBurstBefore = rows.filter((r) => r.tenant_id === TENANT && r.id < s.id).at(-1)!;
        expect(batchOf(s)).toBeLessThanOrEqual(batchOf(lastBurstBefore) + 1);
      }
      expect(await t.metric('tidings_relay_refused_too_large_total')).toBe(0);
    } finally {
      await t.teardown();
    }
  }, 180_000);
});
