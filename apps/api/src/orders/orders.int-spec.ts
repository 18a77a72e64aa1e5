import { type ApiResponse, setupApiTest } from '../../../../test/support/api-app';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';
import { IdempotencyService } from '../idempotency/idempotency.service';

/** The usual api spec, with a body limit to test against; `count`/`writes` read what requests changed. */
async function setup() {
  const t = await setupApiTest({ DB_POOL_SIZE: '30', HTTP_BODY_LIMIT: '16kb' });
  const count = async (sql: string, params: unknown[] = []) =>
    Number(((await t.ds.query(sql, params)) as { n: number }[])[0].n);
  const writes = async () => ({
    orders: await count('SELECT count(*)::int AS n FROM orders'),
    events: await count('SELECT count(*)::int AS n FROM event_log'),
    keys: await count('SELECT count(*)::int AS n FROM idempotency_keys'),
  });
  return { ...t, app: t.api.app, url: t.api.url, call: t.api.call, raw: t.api.raw, count, writes };
}

const ORDER = {
  customerId: 'cus_1',
  currency: 'EUR',
  items: [{ sku: 'A', quantity: 2, unitPriceMinor: 1250 }],
};

describe('orders API', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    t = await setup();
    ({ a, b } = t);
  });

  afterAll(() => t.close());

  it('creates an order and its order.created event (v2) in one transaction', async () => {
    const res = await t.call('POST', '/orders', a.apiKey, { ...ORDER, metadata: { channel: 'web' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('location')).toBe(`/orders/${String(res.body.id)}`);
    expect(res.body).toMatchObject({ status: 'pending', totalMinor: 2500, version: 1, customerId: 'cus_1' });
    const events = (await t.ds.query(
      'SELECT event_type, version, sequence, data FROM event_log WHERE resource_id = $1',
      [res.body.id],
    )) as {
      event_type: string;
      version: number;
      sequence: number;
      data: { totalMinor: number; customer: { id: string } };
    }[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_type: 'order.created',
      version: 2,
      sequence: 1,
      data: { totalMinor: 2500, customer: { id: 'cus_1' } },
    });
  });

  it('stores a valid traceparent with the event and ignores a malformed one', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = await t.call('POST', '/orders', a.apiKey, ORDER, { traceparent: tp });
    const garbled = await t.call('POST', '/orders', a.apiKey, ORDER, { traceparent: 'not-a-trace' });
    expect([traced.status, garbled.status]).toEqual([201, 201]);
    const rows = (await t.ds.query(
      'SELECT resource_id, traceparent FROM event_log WHERE resource_id = ANY($1)',
      [[traced.body.id, garbled.body.id]],
    )) as { resource_id: string; traceparent: string | null }[];
    expect(Object.fromEntries(rows.map((r) => [r.resource_id, r.traceparent]))).toEqual({
      [String(traced.body.id)]: tp,
      [String(garbled.body.id)]: null,
    });
  });

  it('walks the lifecycle and answers 409 with the current state on an invalid transition', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    expect((await t.call('POST', `/orders/${id}/ship`, a.apiKey, {})).body).toMatchObject({
      status: 409,
      currentStatus: 'pending',
      currentVersion: 1,
    });
    expect(
      (await t.call('POST', `/orders/${id}/pay`, a.apiKey, { paymentReference: 'pi_1' })).body,
    ).toMatchObject({ status: 'paid', version: 2 });
    expect((await t.call('POST', `/orders/${id}/ship`, a.apiKey, { carrier: 'DHL' })).body).toMatchObject({
      status: 'shipped',
      carrier: 'DHL',
    });
    expect((await t.call('POST', `/orders/${id}/cancel`, a.apiKey, {})).status).toBe(409);
    expect((await t.call('POST', `/orders/${id}/deliver`, a.apiKey)).body).toMatchObject({
      status: 'delivered',
      version: 4,
    });
    const types = (await t.ds.query(
      'SELECT event_type FROM event_log WHERE resource_id = $1 ORDER BY sequence',
      [id],
    )) as { event_type: string }[];
    expect(types.map((e) => e.event_type)).toEqual([
      'order.created',
      'order.payment_received',
      'order.shipped',
      'order.delivered',
    ]);
  });

  it('patches an order: recomputes the total, records only what changed, and refuses item changes after payment', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    const patched = await t.call('PATCH', `/orders/${id}`, a.apiKey, {
      items: [{ sku: 'B', quantity: 3, unitPriceMinor: 100 }],
      customerId: 'cus_1',
      metadata: { gift: 'yes' },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"2"');
    expect(patched.body).toMatchObject({ totalMinor: 300, version: 2, metadata: { gift: 'yes' } });
    const [updated] = (await t.ds.query(
      `SELECT data FROM event_log WHERE resource_id = $1 AND event_type = 'order.updated'`,
      [id],
    )) as { data: { orderId: string; changes: Record<string, unknown> } }[];
    expect(updated.data).toEqual({
      orderId: id,
      changes: {
        items: [{ sku: 'B', quantity: 3, unitPriceMinor: 100 }],
        totalMinor: 300,
        metadata: { gift: 'yes' },
      },
    });
    expect((await t.call('PATCH', `/orders/${id}`, a.apiKey, {})).status).toBe(400);
    await t.call('POST', `/orders/${id}/pay`, a.apiKey, {});
    const before = await t.writes();
    const late = await t.call('PATCH', `/orders/${id}`, a.apiKey, {
      items: [{ sku: 'C', quantity: 1, unitPriceMinor: 1 }],
    });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ currentStatus: 'paid', currentVersion: 3 });
    expect((await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'leave at door' })).status).toBe(200);
    await t.call('POST', `/orders/${id}/cancel`, a.apiKey, { reason: 'changed mind' });
    const final = await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'too late' });
    expect(final.status).toBe(409);
    expect(final.body).toMatchObject({ currentStatus: 'cancelled', currentVersion: 5 });
    expect((await t.writes()).events).toBe(before.events + 2);
  });

  it('serialises 100 concurrent PATCHes on one order into versions 1..101 with no gap or duplicate', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: `note ${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(results.map((r) => r.body.version as number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 2),
    );
    const seqs = (await t.ds.query('SELECT sequence FROM event_log WHERE resource_id = $1 ORDER BY id', [
      id,
    ])) as { sequence: number }[];
    // Insertion order (id) is sequence order: each event of the order is appended after the previous committed.
    expect(seqs.map((s) => s.sequence)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect((await t.call('GET', `/orders/${id}`, a.apiKey)).body.version).toBe(101);
  });

  it('honours If-Match: 412 with the current ETag on a mismatch, and nothing changes', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    const before = await t.writes();
    const stale = await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'x' }, { 'if-match': '"7"' });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('etag')).toBe('"1"');
    expect(await t.writes()).toEqual(before);
    expect(
      (await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'x' }, { 'if-match': '"1"' })).status,
    ).toBe(200);
  });

  it('rolls the order change back when its event cannot be appended', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    // Occupy version 2 of this order in the log, so the PATCH's append hits the unique (resource, sequence).
    await t.ds.query(
      `INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence, source, occurred_at, data)
       VALUES ('0193a4e2-7b1c-7d4e-8f00-000000000001', $1, 'order.updated', 1, 'order', $2, 2, 'test', now(), '{}')`,
      [a.tenantId, id],
    );
    const res = await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'never stored' });
    expect(res.status).toBe(500);
    const [row] = (await t.ds.query('SELECT version, notes FROM orders WHERE id = $1', [id])) as {
      version: number;
      notes: string | null;
    }[];
    expect(row).toEqual({ version: 1, notes: null });
    expect(
      await t.count(
        `SELECT count(*)::int AS n FROM event_log WHERE resource_id = $1 AND source = 'tidings/api'`,
        [id],
      ),
    ).toBe(1);
  });

  it('replays an idempotent POST, rejects a different body with 422, and creates exactly one order under 10 concurrent duplicates', async () => {
    const key = `idem-${Date.now()}`;
    const first = await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key });
    const replay = await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(
      (
        await t.call(
          'POST',
          '/orders',
          a.apiKey,
          { ...ORDER, customerId: 'other' },
          { 'idempotency-key': key },
        )
      ).status,
    ).toBe(422);

    const burstKey = `burst-${Date.now()}`;
    const before = await t.writes();
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': burstKey }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 409).every((_, i, all) => all.length < 10)).toBe(true);
    const after = await t.writes();
    expect(after.orders - before.orders).toBe(1);
    expect(after.events - before.events).toBe(1);
    const ids = new Set(burst.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
  });

  it('answers 409 while a request with the same Idempotency-Key is in flight, writing nothing', async () => {
    const key = `inflight-${Date.now()}`;
    // Hold the (tenant, key) advisory lock the way an in-flight first request does.
    const holder = t.ds.createQueryRunner();
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [a.tenantId, key]);
      const before = await t.writes();
      const busy = await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key });
      expect(busy.status).toBe(409);
      expect(busy.headers.get('content-type')).toContain('application/problem+json');
      expect(busy.headers.get('retry-after')).toBe('1');
      expect(await t.writes()).toEqual(before);
      await holder.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [a.tenantId, key]);
    } finally {
      await holder.release();
    }
    expect((await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key })).status).toBe(201);
  });

  it('forgets Idempotency-Keys after their window: an expired key runs again and the cleanup purges it', async () => {
    const key = `expiring-${Date.now()}`;
    const first = await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key });
    await t.ds.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = $2",
      [a.tenantId, key],
    );
    const again = await t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.body.id).not.toBe(first.body.id);

    const stale = `stale-${Date.now()}`;
    await t.ds.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_status, response_body, expires_at)
       VALUES ($1, $2, 'h', 201, '{}', now() - interval '1 hour')`,
      [a.tenantId, stale],
    );
    expect(await t.app.get(IdempotencyService).purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = (await t.ds.query('SELECT key FROM idempotency_keys WHERE tenant_id = $1', [
      a.tenantId,
    ])) as { key: string }[];
    expect(left.map((r) => r.key)).toContain(key);
    expect(left.map((r) => r.key)).not.toContain(stale);
  });

  it('counts committed events in tidings_events_appended_total by type, and not rolled-back ones', async () => {
    const metric = async (type: string) => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      const line = text
        .split('\n')
        // Other labels (the registry's default `app`) may follow event_type.
        .find((l) => l.startsWith(`tidings_events_appended_total{event_type="${type}"`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const created = await metric('order.created');
    const updated = await metric('order.updated');
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    expect(await metric('order.created')).toBe(created + 1);
    await t.ds.query(
      `INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence, source, occurred_at, data)
       VALUES ('0193a4e2-7b1c-7d4e-8f00-000000000002', $1, 'order.updated', 1, 'order', $2, 2, 'test', now(), '{}')`,
      [a.tenantId, id],
    );
    expect((await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'rolled back' })).status).toBe(500);
    expect(await metric('order.updated')).toBe(updated);
    await t.ds.query(`DELETE FROM event_log WHERE source = 'test' AND resource_id = $1`, [id]);
    expect((await t.call('PATCH', `/orders/${id}`, a.apiKey, { notes: 'kept' })).status).toBe(200);
    expect(await metric('order.updated')).toBe(updated + 1);
  });

  it('lists with cursor pagination and filters, newest first, only the caller tenant', async () => {
    const c = await createTenant(t.ds, { name: 'lister' });
    for (let i = 0; i < 5; i++)
      await t.call('POST', '/orders', c.apiKey, { ...ORDER, customerId: i % 2 ? 'odd' : 'even' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await t.call(
        'GET',
        `/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        c.apiKey,
      );
      seen.push(...(page.body.data as { id: string }[]).map((o) => o.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    const odd = await t.call('GET', '/orders?customerId=odd', c.apiKey);
    expect((odd.body.data as unknown[]).length).toBe(2);
    expect((await t.call('GET', '/orders?cursor=garbage', c.apiKey)).status).toBe(400);
    await t.call('POST', `/orders/${seen[0]}/pay`, c.apiKey, {});
    const paid = await t.call('GET', '/orders?status=paid', c.readKey);
    expect((paid.body.data as { id: string }[]).map((o) => o.id)).toEqual([seen[0]]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await t.call('GET', `/orders?createdAfter=${future}`, c.readKey)).body.data).toEqual([]);
    expect(
      ((await t.call('GET', `/orders?createdBefore=${future}`, c.readKey)).body.data as unknown[]).length,
    ).toBe(5);
    const bad = await t.call('GET', '/orders?createdAfter=yesterday&status=lost', c.readKey);
    expect(bad.status).toBe(400);
    expect((bad.body.errors ?? []).map((e) => e.field).sort()).toEqual(['createdAfter', 'status']);
  });

  it("answers 404 on every order endpoint for another tenant's order, exactly as for a missing one, and changes nothing", async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    const before = await t.writes();
    const attempts: [string, string, unknown?][] = [
      ['GET', `/orders/${id}`],
      ['GET', `/orders/${id}?asOf=1`],
      ['GET', `/orders/${id}/history`],
      ['PATCH', `/orders/${id}`, { notes: 'x' }],
      ['POST', `/orders/${id}/pay`, {}],
      ['POST', `/orders/${id}/ship`, {}],
      ['POST', `/orders/${id}/deliver`, {}],
      ['POST', `/orders/${id}/cancel`, {}],
      ['DELETE', `/orders/${id}`],
    ];
    for (const [method, path, body] of attempts) {
      const foreign = await t.call(method, path, b.apiKey, body);
      const missing = await t.call(method, path.replace(id, 'ord_missing'), b.apiKey, body);
      expect([method, path, foreign.status]).toEqual([method, path, 404]);
      expect(foreign.body.title).toBe(missing.body.title);
    }
    expect(await t.writes()).toEqual(before);
    expect((await t.call('GET', '/orders', b.apiKey)).body.data).toEqual([]);
  });

  it('deletes an order: order.deleted, then 404', async () => {
    const { body: order } = await t.call('POST', '/orders', a.apiKey, ORDER);
    const id = String(order.id);
    expect((await t.call('DELETE', `/orders/${id}`, a.apiKey)).status).toBe(204);
    expect((await t.call('GET', `/orders/${id}`, a.apiKey)).status).toBe(404);
    const types = (await t.ds.query(
      'SELECT event_type FROM event_log WHERE resource_id = $1 ORDER BY sequence',
      [id],
    )) as { event_type: string }[];
    expect(types.map((e) => e.event_type)).toEqual(['order.created', 'order.deleted']);
  });

  describe('bad input gets a precise 4xx problem and writes nothing', () => {
    const cases: [string, () => Promise<ApiResponse>, number, string?][] = [
      ['malformed JSON', () => t.raw('POST', '/orders', a.apiKey, '{"customerId": '), 400],
      [
        'an oversized body',
        () => t.raw('POST', '/orders', a.apiKey, JSON.stringify({ ...ORDER, notes: 'x'.repeat(20_000) })),
        413,
      ],
      [
        'a non-JSON content type',
        () =>
          t.raw('POST', '/orders', a.apiKey, 'customerId=1', {
            'content-type': 'application/x-www-form-urlencoded',
          }),
        415,
      ],
      [
        'a NUL byte',
        () => t.call('POST', '/orders', a.apiKey, { ...ORDER, notes: 'a\u0000b' }),
        400,
        'notes',
      ],
      [
        'a lone surrogate',
        () =>
          t.raw(
            'POST',
            '/orders',
            a.apiKey,
            '{"customerId":"c\\ud800","currency":"EUR","items":[{"sku":"A","quantity":1,"unitPriceMinor":1}]}',
          ),
        400,
        'customerId',
      ],
      [
        'a NUL byte in a query filter',
        () => t.call('GET', '/orders?customerId=a%00b', a.apiKey),
        400,
        'customerId',
      ],
      ['a NUL byte in the path', () => t.call('POST', '/orders/ord_%00/pay', a.apiKey, {}), 400, '(path)'],
      [
        'an unknown field',
        () => t.call('POST', '/orders', a.apiKey, { ...ORDER, discount: 5 }),
        400,
        'discount',
      ],
      [
        'an invalid currency and quantity',
        () =>
          t.call('POST', '/orders', a.apiKey, {
            ...ORDER,
            currency: 'euro',
            items: [{ sku: 'A', quantity: 0, unitPriceMinor: 1 }],
          }),
        400,
        'currency',
      ],
      [
        'a total beyond 2^53',
        () =>
          t.call('POST', '/orders', a.apiKey, {
            ...ORDER,
            items: [{ sku: 'A', quantity: 1_000_000, unitPriceMinor: 1_000_000_000_000 }],
          }),
        400,
        'items',
      ],
      [
        'a malformed Idempotency-Key',
        () => t.call('POST', '/orders', a.apiKey, ORDER, { 'idempotency-key': 'has space' }),
        400,
      ],
      [
        'a malformed If-Match',
        () => t.call('PATCH', '/orders/ord_x', a.apiKey, { notes: 'x' }, { 'if-match': 'yesterday' }),
        400,
      ],
    ];
    // Objects, not tuples: a tuple row without its optional field would hand Jest a `done` callback instead.
    it.each(cases.map(([name, send, status, field]) => ({ name, send, status, field })))(
      '$name',
      async ({ send, status, field }) => {
        const before = await t.writes();
        const res = await send();
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.body).toMatchObject({
          status,
          type: expect.any(String) as string,
          title: expect.any(String) as string,
        });
        if (field) expect((res.body.errors ?? []).map((e) => e.field)).toContain(field);
        // One kind for every 400 with field errors, whatever layer refuses it (the pipe or the service).
        if (field) expect(res.body.type).toBe('https://tidings.dev/problems/validation-failed');
        expect(await t.writes()).toEqual(before);
      },
    );
  });
});
