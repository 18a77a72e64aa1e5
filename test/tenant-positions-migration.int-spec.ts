// The TenantPositions migration on a populated database: global positions become each tenant's own dense
// order (in the old order), deliveries follow their events, and the relay's sequencer continues from there.
import { dataSourceOptions, MIGRATIONS } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { assignPositions } from './support/positions';

const TENANTS = ['ten_mig_a', 'ten_mig_b', 'ten_mig_c'];

async function blankDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = process.env.TIDINGS_TEST_PG_ADMIN_URL!;
  const name = `t_mig_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new Client({ connectionString: admin });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Inserts an event row as the pre-migration relay left it: `position` global (or null), outbox to match. */
async function insertOld(
  ds: DataSource,
  tenantId: string,
  resourceId: string,
  sequence: number,
  position: number | null,
) {
  const e = buildEvent({
    eventType: 'order.updated',
    tenantId,
    resourceId,
    sequence,
    source: 'tidings/test',
    data: { orderId: resourceId, changes: { notes: `change ${sequence}` } },
  });
  await ds.query(
    `WITH e AS (
       INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence,
                              source, occurred_at, data, position)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id)
     INSERT INTO outbox (event_log_id, position, published_at)
     SELECT id, $11, CASE WHEN $11::bigint IS NULL THEN NULL ELSE now() END FROM e`,
    [
      e.eventId,
      tenantId,
      e.eventType,
      e.version,
      e.resourceType,
      resourceId,
      sequence,
      e.source,
      e.timestamp,
      JSON.stringify(e.data),
      position,
    ],
  );
  return e.eventId;
}

describe('migration TenantPositions', () => {
  it('renumbers a populated log per tenant in the old order and the sequencer continues each tenant', async () => {
    const db = await blankDatabase();
    const at = MIGRATIONS.findIndex((m) => m.name === 'TenantPositions1796300000000');
    const before = new DataSource({ ...dataSourceOptions(db.url, 2), migrations: MIGRATIONS.slice(0, at) });
    await before.initialize();
    let after: DataSource | undefined;
    try {
      await before.runMigrations({ transaction: 'each' });
      // 60 positioned events of three tenants interleaved unevenly (a: 1 in 2, b: 1 in 3, c: the rest), then
      // 6 committed but unpositioned ones.
      const tenantAt = (p: number) => (p % 2 === 0 ? TENANTS[0] : p % 3 === 0 ? TENANTS[1] : TENANTS[2]);
      const seqOf = new Map<string, number>();
      const oldOrder: { eventId: string; tenantId: string; position: number }[] = [];
      for (let position = 1; position <= 60; position++) {
        const tenantId = tenantAt(position);
        const resourceId = `ord_${tenantId}_${position % 4}`;
        const sequence = (seqOf.get(resourceId) ?? 0) + 1;
        seqOf.set(resourceId, sequence);
        oldOrder.push({
          eventId: await insertOld(before, tenantId, resourceId, sequence, position),
          tenantId,
          position,
        });
      }
      for (let i = 0; i < 6; i++) {
        const tenantId = TENANTS[i % 3];
        const resourceId = `ord_${tenantId}_0`;
        const sequence = (seqOf.get(resourceId) ?? 0) + 1;
        seqOf.set(resourceId, sequence);
        await insertOld(before, tenantId, resourceId, sequence, null);
      }
      await before.query(`UPDATE sequencer_state SET last_position = 60 WHERE id = 1`);
      // A delivery remembers its event's position.
      const delivered = oldOrder[41];
      await before.query(
        `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                         resource_id, sequence, status)
         VALUES ('dlv_mig', $1, 'wh_mig', $2, 'order.updated', $3, 'ord_x', 1, 'delivered')`,
        [delivered.tenantId, delivered.eventId, delivered.position],
      );
      await before.destroy();

      after = new DataSource(dataSourceOptions(db.url, 2));
      await after.initialize();
      // This migration and the ones after it (RelayShards: the shard of every outbox row).
      expect((await after.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual(
        MIGRATIONS.slice(at).map((m) => m.name),
      );

      const rows = (await after.query(
        `SELECT e.event_id, e.tenant_id, e.position::int AS position, o.seq::int AS seq, o.tenant_id AS outbox_tenant
           FROM event_log e JOIN outbox o ON o.event_log_id = e.id WHERE e.position IS NOT NULL ORDER BY o.seq`,
      )) as { event_id: string; tenant_id: string; position: number; seq: number; outbox_tenant: string }[];
      // The old global order is kept as the relay's seq; each tenant is 1..N in that order.
      expect(rows.map((r) => r.event_id)).toEqual(oldOrder.map((o) => o.eventId));
      expect(rows.map((r) => r.seq)).toEqual(oldOrder.map((o) => o.position));
      expect(rows.every((r) => r.outbox_tenant === r.tenant_id)).toBe(true);
      const counts = new Map<string, number>();
      for (const r of rows) {
        counts.set(r.tenant_id, (counts.get(r.tenant_id) ?? 0) + 1);
        expect(r.position).toBe(counts.get(r.tenant_id));
      }
      expect(Object.fromEntries(counts)).toEqual({ ten_mig_a: 30, ten_mig_b: 10, ten_mig_c: 20 });
      const heads = (await after.query(
        `SELECT tenant_id, last_position::int AS head FROM tenant_positions ORDER BY tenant_id`,
      )) as { tenant_id: string; head: number }[];
      expect(heads).toEqual([...counts].sort().map(([tenant_id, head]) => ({ tenant_id, head })));
      const [delivery] = (await after.query(
        `SELECT event_position::int AS p FROM webhook_deliveries WHERE id = 'dlv_mig'`,
      )) as { p: number }[];
      expect(delivery.p).toBe(rows.find((r) => r.event_id === delivered.eventId)!.position);

      // The relay's sequencer picks up the unpositioned events: each tenant continues densely after its head.
      expect(await assignPositions(after)).toBe(6);
      const dense = (await after.query(
        `SELECT tenant_id, array_agg(position::int ORDER BY position) AS positions FROM event_log
          GROUP BY tenant_id ORDER BY tenant_id`,
      )) as { tenant_id: string; positions: number[] }[];
      for (const { tenant_id, positions } of dense) {
        expect(positions).toEqual(positions.map((_, i) => i + 1));
        expect(positions).toHaveLength(counts.get(tenant_id)! + 2);
      }
      // Publish order continues past the old global cursor in each shard the new events went to.
      const seqs = (await after.query(
        `SELECT o.seq::int AS seq, o.shard = tidings_shard(o.tenant_id) AS sharded FROM outbox o
          JOIN event_log e ON e.id = o.event_log_id ORDER BY e.id DESC LIMIT 6`,
      )) as { seq: number; sharded: boolean }[];
      expect(seqs.every((r) => r.seq > 60 && r.sharded)).toBe(true);

      // And back: one global dense order again, each resource still in sequence order.
      for (let i = at; i < MIGRATIONS.length; i++) await after.undoLastMigration({ transaction: 'each' });
      const global = (await after.query(`SELECT position::int AS p FROM event_log ORDER BY position`)) as {
        p: number;
      }[];
      expect(global.map((r) => r.p)).toEqual(global.map((_, i) => i + 1));
    } finally {
      if (before.isInitialized) await before.destroy();
      if (after?.isInitialized) await after.destroy();
      await db.drop();
    }
  });
});
