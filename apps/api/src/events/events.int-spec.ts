import { appendEvent, envelopeFromLogRow, EventLogEntity, transaction } from '@tidings/db';
import {
  buildEvent,
  type EventData,
  type EventEnvelope,
  type KnownEventType,
  matchesEventType,
  renderAtVersion,
} from '@tidings/events';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { orderCreatedEvent } from '../../../../test/support/factories/events';
import { setupApiTest } from '../../../../test/support/api-app';
import { assignPositions } from '../../../../test/support/positions';

const SOURCE = 'tidings/api';

interface Page {
  data: EventEnvelope[];
  nextAfter: number | null;
}
interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors: { field: string; message: string }[];
}
const page = async (res: Response) => (await res.json()) as Page;
const problem = async (res: Response) => (await res.json()) as Problem;

const orderCreated = (tenantId: string, orderId: string) =>
  orderCreatedEvent({ tenantId, orderId, source: SOURCE });

async function setup() {
  const t = await setupApiTest();
  return { ...t, url: t.api.url };
}

/** Appends events in one transaction each, like the API's mutations do. */
async function append(ds: DataSource, ...events: EventEnvelope[]): Promise<void> {
  for (const event of events) await transaction(ds, (tx) => appendEvent(tx, event));
}

describe('GET /events', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  /** Tenant A's positioned events, in position order (what GET /events must return). */
  let expected: EventEnvelope[];
  let unpositioned: EventEnvelope;
  let otherTenants: EventEnvelope;

  const get = (path: string, key = ctx.a.apiKey) =>
    fetch(`${ctx.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const ids = (events: { eventId: string }[]) => events.map((e) => e.eventId);

  beforeAll(async () => {
    ctx = await setup();
    const { a, b, ds } = ctx;
    const o1 = `ord_${randomUUID()}`;
    const o2 = `ord_${randomUUID()}`;
    const m1 = `msg_${randomUUID()}`;
    const e = <T extends KnownEventType>(
      eventType: T,
      resourceId: string,
      sequence: number,
      data: EventData<T>,
    ) => buildEvent<T>({ eventType, tenantId: a.tenantId, resourceId, sequence, source: SOURCE, data });
    const now = '2026-11-28T12:00:00.000Z';
    await append(
      ds,
      orderCreated(a.tenantId, o1),
      e('message.received', m1, 1, {
        messageId: m1,
        from: 'alice',
        channel: 'sms',
        body: 'hi',
        metadata: {},
      }),
      e('order.updated', o1, 2, { orderId: o1, changes: { notes: 'leave at the door' } }),
      orderCreated(a.tenantId, o2),
      e('order.payment_received', o1, 3, {
        orderId: o1,
        amountMinor: 2500,
        currency: 'EUR',
        paymentReference: 'pay_1',
        paidAt: now,
      }),
      e('order.shipped', o1, 4, { orderId: o1, carrier: 'DHL', trackingNumber: 'TRK1', shippedAt: now }),
      e('order.cancelled', o2, 2, { orderId: o2, reason: 'changed mind', cancelledAt: now }),
      e('message.deleted', m1, 2, { messageId: m1, deletedAt: now }),
    );
    otherTenants = orderCreated(b.tenantId, `ord_${randomUUID()}`);
    await append(ds, otherTenants);
    await assignPositions(ds);
    unpositioned = e('order.delivered', o1, 5, { orderId: o1, deliveredAt: now });
    await append(ds, unpositioned);

    const rows = await ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .where('e.tenantId = :t', { t: a.tenantId })
      .andWhere('e.position IS NOT NULL')
      .orderBy('e.position')
      .getMany();
    // Tenant A's own audit events (tenant.created, api_key.created) are part of its log too.
    expected = rows.map(envelopeFromLogRow);
    expect(expected.filter((e) => e.resourceType === 'order' || e.resourceType === 'message')).toHaveLength(
      8,
    );
  });

  afterAll(() => ctx?.close());

  it("returns the tenant's positioned events in position order, rendered as envelopes", async () => {
    const res = await get('/events');
    expect(res.status).toBe(200);
    const body = await page(res);
    expect(body.data).toEqual(expected);
    expect(body.nextAfter).toBeNull();
    const positions = body.data.map((e) => e.position!);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  });

  it("never returns another tenant's events", async () => {
    const res = await get('/events?limit=1000');
    expect(ids((await page(res)).data)).not.toContain(otherTenants.eventId);
    const theirs = (await page(await get('/events', ctx.b.apiKey))).data;
    expect(ids(theirs)).toContain(otherTenants.eventId);
    expect(theirs.every((e) => e.tenantId === ctx.b.tenantId)).toBe(true);
    expect(ids(theirs).filter((id) => ids(expected).includes(id))).toEqual([]);
  });

  it.each([
    ['order.shipped'],
    ['order.*'],
    ['message.*'],
    ['*'],
    ['order.created,message.deleted'],
    ['order.payment_received'],
  ])('filters by type=%s exactly like matchesEventType', async (type) => {
    const res = await get(`/events?type=${encodeURIComponent(type)}&after=0&limit=1000`);
    expect(res.status).toBe(200);
    const want = expected.filter((e) => type.split(',').some((p) => matchesEventType(p, e.eventType)));
    expect(ids((await page(res)).data)).toEqual(ids(want));
    expect(want.length).toBeGreaterThan(0);
  });

  it('treats LIKE metacharacters in a type literally', async () => {
    // `_` is a LIKE wildcard: order_payment.received must not match order.payment_received.
    const res = await get('/events?type=order.payment%5Freceived&limit=1000');
    expect(ids((await page(res)).data)).toEqual(
      ids(expected.filter((e) => e.eventType === 'order.payment_received')),
    );
  });

  it('filters by resourceType and resourceId', async () => {
    const messages = await page(await get('/events?resourceType=message&limit=1000'));
    expect(ids(messages.data)).toEqual(ids(expected.filter((e) => e.resourceType === 'message')));
    const o1 = expected.find((e) => e.eventType === 'order.created')!.resourceId;
    const one = await page(await get(`/events?resourceId=${o1}&limit=1000`));
    const want = expected.filter((e) => e.resourceId === o1);
    expect(ids(one.data)).toEqual(ids(want));
    expect(one.data.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('pages with after/limit and returns every event exactly once, in position order', async () => {
    const seen: EventEnvelope[] = [];
    let after: number | null = 0;
    let pages = 0;
    while (after !== null) {
      const res = await get(`/events?limit=3&after=${after}`);
      const body = await page(res);
      expect(body.data.length).toBeLessThanOrEqual(3);
      seen.push(...body.data);
      after = body.nextAfter;
      pages += 1;
      expect(pages).toBeLessThan(10);
    }
    const all = await page(await get('/events?limit=1000'));
    expect(ids(seen)).toEqual(ids(all.data));
    expect(new Set(ids(seen)).size).toBe(seen.length);
    expect(pages).toBe(Math.ceil(seen.length / 3) + (seen.length % 3 === 0 ? 1 : 0));
  });

  it('renders events at a requested version', async () => {
    const created = expected.find((e) => e.eventType === 'order.created')!;
    const res = await get('/events?type=order.created&version=1&limit=1000');
    expect(res.status).toBe(200);
    const body = await page(res);
    expect(body.data[0]).toEqual(renderAtVersion(created, 1));
    expect(body.data[0].version).toBe(1);
    const one = await get(`/events/${created.eventId}?version=1`);
    expect(await one.json()).toEqual(renderAtVersion(created, 1));
  });

  it.each([
    ['after=-1', 'after'],
    ['after=abc', 'after'],
    ['after=1.5', 'after'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['type=order.', 'type'],
    ['type=ORDER%20CREATED', 'type'],
    ["type=order.created'%20OR%201=1--", 'type'],
    ['resourceType=invoice', 'resourceType'],
    ['types=order.*', 'types'],
    ['after=1&after=2', 'after'],
    ['version=1', 'version'],
    ['type=order.*&version=1', 'version'],
    ['type=order.created&version=99', 'version'],
    ['type=order.created&version=0', 'version'],
  ])('rejects %s with a 400 problem naming the field', async (query, field) => {
    const res = await get(`/events?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await problem(res);
    expect(body).toMatchObject({ status: 400, title: 'Validation Failed' });
    expect(body.errors.map((e) => e.field)).toContain(field);
  });
  // Runs last in this block: it positions the pending event, which the tests above rely on being hidden.
  it('hides events the relay has not positioned yet, and shows them once positioned', async () => {
    const before = await page(await get('/events?limit=1000'));
    expect(ids(before.data)).not.toContain(unpositioned.eventId);
    expect(ids(before.data)).toEqual(ids(expected));

    expect(await assignPositions(ctx.ds)).toBe(1);
    const after = await page(await get(`/events?after=${expected.at(-1)!.position}`));
    expect(ids(after.data)).toEqual([unpositioned.eventId]);
    expect(after.data[0].position).toBeGreaterThan(expected.at(-1)!.position!);
  });
});

describe('GET /events/:eventId', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let mine: EventEnvelope;
  let theirs: EventEnvelope;
  const get = (path: string, key = ctx.a.apiKey) =>
    fetch(`${ctx.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    ctx = await setup();
    mine = orderCreated(ctx.a.tenantId, `ord_${randomUUID()}`);
    theirs = orderCreated(ctx.b.tenantId, `ord_${randomUUID()}`);
    await append(ctx.ds, mine, theirs);
    await assignPositions(ctx.ds);
  });

  afterAll(() => ctx?.close());

  it('returns one of the tenant’s events', async () => {
    const res = await get(`/events/${mine.eventId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...mine, position: expect.any(Number) });
  });

  it("answers 404 for another tenant's event, exactly as for a missing one", async () => {
    const other = await get(`/events/${theirs.eventId}`);
    const missing = await get(`/events/${randomUUID()}`);
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    const [o, m] = [await problem(other), await problem(missing)];
    expect(o.title).toBe(m.title);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('rejects an id that is not a UUID with 400', async () => {
    const res = await get('/events/123');
    expect(res.status).toBe(400);
    expect((await problem(res)).errors).toEqual([{ field: 'eventId', message: 'must be a UUID' }]);
  });

  it.each(['version=42', 'version=0', 'version=x', 'fields=data'])('rejects ?%s with 400', async (query) => {
    const res = await get(`/events/${mine.eventId}?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('requires an API key', async () => {
    const res = await fetch(`${ctx.url}/events`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
