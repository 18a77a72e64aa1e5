import { appendEvent, transaction } from '@tidings/db';
import type { EventData, EventEnvelope, KnownEventType } from '@tidings/events';
import { randomUUID } from 'node:crypto';
import { setupApiTest } from '../../../../test/support/api-app';
import { orderCreatedData, orderEvent } from '../../../../test/support/factories/events';
import { assignPositions } from '../../../../test/support/positions';

type OrderEventType = Extract<KnownEventType, `order.${string}`>;

const T = (minute: number) => `2026-11-28T12:${String(minute).padStart(2, '0')}:00.000Z`;

async function setup() {
  const t = await setupApiTest();
  const { ds, a, api } = t;
  const url = api.url;
  const orderId = `ord_${randomUUID()}`;
  const e = <T extends OrderEventType>(
    eventType: T,
    sequence: number,
    minute: number,
    data: Omit<EventData<T>, 'orderId'>,
  ) => orderEvent(eventType, { tenantId: a.tenantId, orderId, sequence, timestamp: T(minute) }, data);
  const created = orderCreatedData();
  // The order's life, one event per minute from 12:01; appended one transaction each, like the API does.
  const events: EventEnvelope[] = [
    e('order.created', 1, 1, created),
    e('order.updated', 2, 2, { changes: { notes: 'gift wrap' } }),
    e('order.payment_received', 3, 3, {
      amountMinor: created.totalMinor,
      currency: 'EUR',
      paymentReference: 'pay_123',
      paidAt: T(3),
    }),
    e('order.shipped', 4, 4, { carrier: 'UPS', trackingNumber: '1Z999', shippedAt: T(4) }),
    e('order.deleted', 5, 5, { deletedAt: T(5) }),
  ];
  for (const event of events.slice(0, 4)) await transaction(ds, (tx) => appendEvent(tx, event));
  await assignPositions(ds);
  // The deletion is committed but not yet positioned by the relay.
  await transaction(ds, (tx) => appendEvent(tx, events[4]));
  const get = (path: string, key = a.apiKey) =>
    fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${a.apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { ...t, orderId, created, events, get, send };
}

describe('order history and asOf', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;

  beforeAll(async () => {
    ctx = await setup();
  });

  afterAll(() => ctx?.close());

  it('returns every committed event of the order by sequence, including the not yet positioned ones', async () => {
    const res = await ctx.get(`/orders/${ctx.orderId}/history`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: EventEnvelope[] };
    expect(body.data.map((e) => e.eventId)).toEqual(ctx.events.map((e) => e.eventId));
    expect(body.data.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(body.data.slice(0, 4).every((e) => typeof e.position === 'number')).toBe(true);
    expect(body.data[4].position).toBeNull();
    expect(body.data[4]).toEqual(ctx.events[4]);
  });

  it("answers 404 for another tenant's order and for an unknown one", async () => {
    expect((await ctx.get(`/orders/${ctx.orderId}/history`, ctx.b.apiKey)).status).toBe(404);
    expect((await ctx.get(`/orders/ord_${randomUUID()}/history`)).status).toBe(404);
  });

  it('folds the order to its state as of a sequence', async () => {
    const res = await ctx.get(`/orders/${ctx.orderId}?asOf=2`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: ctx.orderId,
      status: 'pending',
      notes: 'gift wrap',
      totalMinor: ctx.created.totalMinor,
      version: 2,
    });
    const shipped = await (await ctx.get(`/orders/${ctx.orderId}?asOf=4`)).json();
    expect(shipped).toMatchObject({ status: 'shipped', carrier: 'UPS', trackingNumber: '1Z999', version: 4 });
  });

  it('folds the order to its state as of a time', async () => {
    const paid = await ctx.get(`/orders/${ctx.orderId}?asOf=${encodeURIComponent('2026-11-28T12:03:30Z')}`);
    expect(paid.status).toBe(200);
    expect(await paid.json()).toMatchObject({ status: 'paid', paymentReference: 'pay_123', version: 3 });
    // An instant exactly at an event includes it; an offset is honoured.
    const exact = await ctx.get(
      `/orders/${ctx.orderId}?asOf=${encodeURIComponent('2026-11-28T13:01:00+01:00')}`,
    );
    expect(await exact.json()).toMatchObject({ status: 'pending', notes: null, version: 1 });
  });

  it('answers 404 before the order existed and after it was deleted', async () => {
    const before = await ctx.get(`/orders/${ctx.orderId}?asOf=2026-11-28T12:00:59.999Z`);
    expect(before.status).toBe(404);
    expect(before.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await ctx.get(`/orders/${ctx.orderId}?asOf=5`)).status).toBe(404);
    expect((await ctx.get(`/orders/${ctx.orderId}?asOf=2026-11-28T12:30:00Z`)).status).toBe(404);
    expect((await ctx.get(`/orders/${ctx.orderId}?asOf=2`, ctx.b.apiKey)).status).toBe(404);
  });

  it.each(['yesterday', '0', '-1', '2026-02-30T00:00:00Z', '2026-11-28T12:00:00', '99999999999', '1e3', ''])(
    'rejects asOf=%s with a 400 problem',
    async (asOf) => {
      const res = await ctx.get(`/orders/${ctx.orderId}?asOf=${encodeURIComponent(asOf)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { errors: { field: string }[] }).errors[0].field).toBe('asOf');
    },
  );

  it('reads a past state exactly like GET /orders/:id read it then, for an order written through the API', async () => {
    const created = await ctx.send('POST', '/orders', {
      customerId: 'cus_9',
      currency: 'EUR',
      items: [{ sku: 'SKU-9', quantity: 3, unitPriceMinor: 700 }],
      notes: 'first',
      metadata: { via: 'api' },
    });
    expect(created.status).toBe(201);
    const v1 = (await created.json()) as { id: string; version: number };
    const patched = await ctx.send('PATCH', `/orders/${v1.id}`, { notes: 'second', customerId: 'cus_10' });
    expect(patched.status).toBe(200);
    const paid = await ctx.send('POST', `/orders/${v1.id}/pay`, { paymentReference: 'pay_9' });
    expect(paid.status).toBe(200);
    const v3: unknown = await (await ctx.get(`/orders/${v1.id}`)).json();

    expect(await (await ctx.get(`/orders/${v1.id}?asOf=1`)).json()).toEqual(v1);
    expect(await (await ctx.get(`/orders/${v1.id}?asOf=2`)).json()).toEqual(await patched.json());
    expect(await (await ctx.get(`/orders/${v1.id}?asOf=3`)).json()).toEqual(v3);
    expect(await (await ctx.get(`/orders/${v1.id}?asOf=${new Date().toISOString()}`)).json()).toEqual(v3);
  });
});
