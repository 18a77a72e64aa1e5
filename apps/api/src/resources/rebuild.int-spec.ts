import { setupApiTest } from '../../../../test/support/api-app';
import { rebuildCommand, type RebuildReport, RebuildService } from './rebuild.service';

async function setup() {
  const t = await setupApiTest();
  return { ...t, url: t.api.url, tenants: [t.a, t.b], sut: new RebuildService(t.ds) };
}

type Ctx = Awaited<ReturnType<typeof setup>>;

async function call(
  ctx: Ctx,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ id: string }> {
  const res = await fetch(`${ctx.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${await res.text()}`);
  return res.status === 204 ? { id: '' } : ((await res.json()) as { id: string });
}

/** Creates, patches, walks lifecycles, deletes, and sends and deletes messages, through the real API. */
async function mixedWorkload(ctx: Ctx): Promise<void> {
  for (const [t, tenant] of ctx.tenants.entries()) {
    const key = tenant.apiKey;
    const order = (n: number) => ({
      customerId: `cus_${t}_${n}`,
      currency: n % 2 ? 'EUR' : 'JPY',
      items: [{ sku: `SKU-${n}`, quantity: n + 1, unitPriceMinor: 100 * (n + 1) }],
      notes: n % 3 ? null : `note ${n}`,
      metadata: { n: String(n) },
    });
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) ids.push((await call(ctx, key, 'POST', '/orders', order(n))).id);
    const [o0, o1, o2, o3, o4, o5, o6] = ids as [string, string, string, string, string, string, string];
    await call(ctx, key, 'PATCH', `/orders/${o0}`, { notes: 'patched', customerId: `cus_${t}_new` });
    await call(ctx, key, 'PATCH', `/orders/${o0}`, {
      items: [{ sku: 'SKU-X', quantity: 3, unitPriceMinor: 250 }],
      metadata: { patched: 'yes' },
    });
    await call(ctx, key, 'POST', `/orders/${o1}/pay`, { paymentReference: `pay_${t}` });
    await call(ctx, key, 'POST', `/orders/${o2}/pay`, {});
    await call(ctx, key, 'POST', `/orders/${o2}/ship`, { carrier: 'DHL', trackingNumber: `TRK${t}` });
    await call(ctx, key, 'PATCH', `/orders/${o3}`, { notes: null });
    await call(ctx, key, 'POST', `/orders/${o3}/pay`, {});
    await call(ctx, key, 'POST', `/orders/${o3}/ship`, {});
    await call(ctx, key, 'POST', `/orders/${o3}/deliver`, {});
    await call(ctx, key, 'POST', `/orders/${o4}/cancel`, { reason: 'changed mind' });
    await call(ctx, key, 'DELETE', `/orders/${o5}`);
    await call(ctx, key, 'PATCH', `/orders/${o6}`, { notes: 'then deleted' });
    await call(ctx, key, 'DELETE', `/orders/${o6}`);
    const messages: string[] = [];
    for (let n = 0; n < 4; n++) {
      const body = {
        from: `user${n}@example.com`,
        channel: 'support',
        body: `hello ${n}`,
        metadata: { n: String(n) },
      };
      messages.push((await call(ctx, key, 'POST', '/messages', body)).id);
    }
    await call(ctx, key, 'DELETE', `/messages/${messages[1]}`);
    await call(ctx, key, 'DELETE', `/messages/${messages[3]}`);
  }
}

describe('rebuild', () => {
  let ctx: Ctx;

  beforeAll(async () => {
    ctx = await setup();
    await mixedWorkload(ctx);
  });

  afterAll(() => ctx?.close());

  it('folds the whole log into projections equal to the live tables, field by field', async () => {
    // Batches of 7 events make resources straddle read pages.
    const report = await ctx.sut.run({ readBatch: 7 });
    expect(report.differences).toEqual([]);
    expect(report).toMatchObject({ orders: 16, messages: 8, differenceCount: 0, applied: false });
    const [{ n }] = await ctx.ds.query<[{ n: number }]>(
      `SELECT count(*)::int AS n FROM event_log WHERE resource_type IN ('order', 'message')`,
    );
    expect(report.events).toBe(n);
  });

  it('reports a live row that drifted from the log, naming the columns', async () => {
    const [{ id }] = await ctx.ds.query<[{ id: string }]>('SELECT id FROM orders ORDER BY id LIMIT 1');
    await ctx.ds.query(`UPDATE orders SET notes = 'tampered', version = version + 10 WHERE id = $1`, [id]);
    await ctx.ds.query(`DELETE FROM messages WHERE id = (SELECT id FROM messages ORDER BY id LIMIT 1)`);

    const report = await ctx.sut.run();
    expect(report.differenceCount).toBe(2);
    expect(report.differences.find((d) => d.table === 'orders')).toMatchObject({
      id,
      columns: ['notes', 'version'],
    });
    expect(report.differences.find((d) => d.table === 'messages')).toMatchObject({ live: null });
  });

  it('the CLI command exits 1 on drift, applies with --apply, then exits 0', async () => {
    const lines: string[] = [];
    expect(await rebuildCommand(ctx.ds, [], (l) => lines.push(l))).toBe(1);
    expect((JSON.parse(lines[0]) as RebuildReport).differenceCount).toBe(2);

    expect(await rebuildCommand(ctx.ds, ['--apply'], (l) => lines.push(l))).toBe(0);
    expect(JSON.parse(lines[1]) as RebuildReport).toMatchObject({ applied: true, differenceCount: 2 });

    expect(await rebuildCommand(ctx.ds, [], (l) => lines.push(l))).toBe(0);
    expect(JSON.parse(lines[2]) as RebuildReport).toMatchObject({
      differenceCount: 0,
      orders: 16,
      messages: 8,
    });
    expect(await ctx.ds.query(`SELECT id FROM orders WHERE notes = 'tampered'`)).toEqual([]);
  });

  it('the CLI command rejects unknown arguments without touching anything', async () => {
    const lines: string[] = [];
    expect(await rebuildCommand(ctx.ds, ['--force'], (l) => lines.push(l))).toBe(64);
    expect(lines[0]).toMatch(/usage: rebuild/);
  });
});
