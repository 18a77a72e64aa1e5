import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { randomUUID } from 'node:crypto';
import { setupApiTest, type TestApi } from '../../../../test/support/api-app';
import { writeOrderEvent } from '../../../../test/support/event-writer';
import { assignPositions } from '../../../../test/support/positions';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';

interface DeliveryRow {
  id: string;
  status: string;
  attempt_count: number;
  next_attempt_at: Date | null;
  dead_at: Date | null;
}

type Seed = {
  status: 'pending' | 'failed' | 'succeeded' | 'dead';
  attempts?: number;
  /** Minutes ago of the last attempt (and of dead_at for dead ones). */
  failedMinutesAgo?: number;
  eventType?: 'order.updated' | 'message.deleted';
};

async function setup() {
  const test = await setupApiTest();
  const { ds, api } = test;

  /** A positioned event of the tenant and a delivery of it to `subscriptionId` in the given state. */
  const seed = async (tenantId: string, subscriptionId: string, s: Seed): Promise<string> => {
    const resourceId = s.eventType === 'message.deleted' ? `msg_${randomUUID()}` : `ord_${randomUUID()}`;
    const { eventId } =
      s.eventType === 'message.deleted'
        ? await transaction(ds, async (tx) => {
            const event = buildEvent({
              eventType: 'message.deleted',
              tenantId,
              resourceId,
              sequence: 1,
              source: 'tidings/test',
              data: { messageId: resourceId, deletedAt: new Date().toISOString() },
            });
            await appendEvent(tx, event);
            return event;
          })
        : await writeOrderEvent(ds, tenantId, resourceId);
    await assignPositions(ds);
    const id = `dlv_${randomUUID()}`;
    const ago = s.failedMinutesAgo ?? 1;
    await ds.query(
      `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                       resource_id, sequence, status, attempt_count, next_attempt_at,
                                       last_attempt_at, last_status_code, last_error, dead_at)
       SELECT $1, tenant_id, $2, event_id, event_type, position, resource_id, sequence, $4::text, $5,
              CASE WHEN $4 IN ('pending', 'failed') THEN now() + interval '1 hour' END,
              CASE WHEN $5 > 0 THEN now() - make_interval(mins => $6) END,
              CASE WHEN $5 > 0 THEN 500 END, CASE WHEN $5 > 0 THEN 'HTTP 500' END,
              CASE WHEN $4 = 'dead' THEN now() - make_interval(mins => $6) END
       FROM event_log WHERE event_id = $3`,
      [id, subscriptionId, eventId, s.status, s.attempts ?? (s.status === 'pending' ? 0 : 1), ago],
    );
    return id;
  };
  const row = async (id: string) =>
    (
      await ds.query<DeliveryRow[]>(
        'SELECT id, status, attempt_count, next_attempt_at, dead_at FROM webhook_deliveries WHERE id = $1',
        [id],
      )
    )[0];
  const subscribe = async (key: string, eventTypes = ['*']) =>
    (await api.call('POST', '/webhooks', key, { url: 'https://hooks.example.com/x', eventTypes })).body
      .id as string;
  return { ...test, seed, row, subscribe };
}

const isDueNow = (r: DeliveryRow) =>
  r.next_attempt_at !== null && r.next_attempt_at.getTime() <= Date.now() + 1000;

describe('delivery log, retry, recover and dead letters API', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    t = await setup();
    ({ api, a, b } = t);
  });

  afterAll(() => t.close());

  it("lists a subscription's deliveries newest event first, filtered by status and event type, in cursor pages", async () => {
    const sub = await t.subscribe(a.apiKey);
    const other = await t.subscribe(a.apiKey);
    const ids = [
      await t.seed(a.tenantId, sub, { status: 'succeeded' }),
      await t.seed(a.tenantId, sub, { status: 'failed' }),
      await t.seed(a.tenantId, sub, { status: 'dead', eventType: 'message.deleted' }),
      await t.seed(a.tenantId, sub, { status: 'pending' }),
      await t.seed(a.tenantId, sub, { status: 'succeeded', eventType: 'message.deleted' }),
    ];
    await t.seed(a.tenantId, other, { status: 'succeeded' });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Record<string, unknown> } = await api.call(
        'GET',
        `/webhooks/${sub}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        a.readKey,
      );
      expect(page.status).toBe(200);
      seen.push(...(page.body.data as { id: string }[]).map((d) => d.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const succeeded = await api.call('GET', `/webhooks/${sub}/deliveries?status=succeeded`, a.readKey);
    expect((succeeded.body.data as { id: string }[]).map((d) => d.id)).toEqual([ids[4], ids[0]]);
    const messages = await api.call('GET', `/webhooks/${sub}/deliveries?eventType=message.*`, a.readKey);
    expect((messages.body.data as { id: string }[]).map((d) => d.id)).toEqual([ids[4], ids[2]]);
    const exact = await api.call(
      'GET',
      `/webhooks/${sub}/deliveries?eventType=order.updated&status=failed`,
      a.readKey,
    );
    expect(exact.body.data).toEqual([
      expect.objectContaining({
        id: ids[1],
        subscriptionId: sub,
        eventType: 'order.updated',
        status: 'failed',
        attemptCount: 1,
        lastStatusCode: 500,
        lastError: 'HTTP 500',
      }),
    ]);

    for (const q of [
      'status=lost',
      'eventType=order.nope',
      'eventType=DROP',
      'cursor=xyz',
      'limit=500',
      'x=1',
    ]) {
      const res = await api.call('GET', `/webhooks/${sub}/deliveries?${q}`, a.readKey);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('shows one delivery with every attempt: time, status code, duration, truncated response, error, next attempt', async () => {
    const sub = await t.subscribe(a.apiKey);
    const id = await t.seed(a.tenantId, sub, { status: 'failed', attempts: 2 });
    const first = new Date(Date.now() - 120_000);
    const second = new Date(Date.now() - 60_000);
    const retryAt = new Date(Date.now() + 300_000);
    await t.ds.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt_number, attempted_at, status_code, duration_ms,
                                     response_body, error, next_attempt_at)
       VALUES ($1, 1, $2, NULL, 15000, NULL, 'timeout after 15000 ms', $3),
              ($1, 2, $3, 500, 42, $4, 'HTTP 500', $5)`,
      [id, first, second, 'x'.repeat(10_000), retryAt],
    );
    const res = await api.call('GET', `/deliveries/${id}`, a.readKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, subscriptionId: sub, status: 'failed', attemptCount: 2 });
    const attempts = res.body.attempts as Record<string, unknown>[];
    expect(attempts).toEqual([
      {
        attemptNumber: 1,
        attemptedAt: first.toISOString(),
        statusCode: null,
        durationMs: 15000,
        responseBody: null,
        error: 'timeout after 15000 ms',
        nextAttemptAt: second.toISOString(),
      },
      {
        attemptNumber: 2,
        attemptedAt: second.toISOString(),
        statusCode: 500,
        durationMs: 42,
        responseBody: 'x'.repeat(4096),
        error: 'HTTP 500',
        nextAttemptAt: retryAt.toISOString(),
      },
    ]);
    expect((await api.call('GET', '/deliveries/dlv_missing', a.readKey)).status).toBe(404);
  });

  it('retry makes a delivery due now; a dead one gets its whole schedule back', async () => {
    const sub = await t.subscribe(a.apiKey);
    const failed = await t.seed(a.tenantId, sub, { status: 'failed', attempts: 3 });
    const dead = await t.seed(a.tenantId, sub, { status: 'dead', attempts: 6 });
    const done = await t.seed(a.tenantId, sub, { status: 'succeeded' });

    const res = await api.call('POST', `/deliveries/${failed}/retry`, a.apiKey);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: failed, status: 'failed', attemptCount: 3 });
    expect(isDueNow(await t.row(failed))).toBe(true);

    expect((await api.call('POST', `/deliveries/${dead}/retry`, a.apiKey)).body).toMatchObject({
      status: 'pending',
      attemptCount: 0,
      deadAt: null,
    });
    expect(isDueNow(await t.row(dead))).toBe(true);

    expect((await api.call('POST', `/deliveries/${done}/retry`, a.apiKey)).body).toMatchObject({
      status: 'pending',
      attemptCount: 1,
    });
    expect((await api.call('POST', `/deliveries/${failed}/retry`, a.readKey)).status).toBe(403);
  });

  it('recover re-delivers what failed or died since the given time, and nothing older or successful', async () => {
    const sub = await t.subscribe(a.apiKey);
    const other = await t.subscribe(a.apiKey);
    const recentFailed = await t.seed(a.tenantId, sub, {
      status: 'failed',
      attempts: 2,
      failedMinutesAgo: 5,
    });
    const recentDead = await t.seed(a.tenantId, sub, { status: 'dead', attempts: 6, failedMinutesAgo: 10 });
    const oldDead = await t.seed(a.tenantId, sub, { status: 'dead', attempts: 6, failedMinutesAgo: 120 });
    const ok = await t.seed(a.tenantId, sub, { status: 'succeeded', failedMinutesAgo: 1 });
    const otherDead = await t.seed(a.tenantId, other, { status: 'dead', attempts: 6, failedMinutesAgo: 1 });

    const since = new Date(Date.now() - 30 * 60_000).toISOString();
    const res = await api.call('POST', `/webhooks/${sub}/recover`, a.apiKey, { since });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ count: 2 });
    for (const id of [recentFailed, recentDead]) {
      const r = await t.row(id);
      expect(r).toMatchObject({ status: 'pending', attempt_count: 0, dead_at: null });
      expect(isDueNow(r)).toBe(true);
    }
    expect(await t.row(oldDead)).toMatchObject({ status: 'dead', attempt_count: 6 });
    expect(await t.row(ok)).toMatchObject({ status: 'succeeded' });
    expect(await t.row(otherDead)).toMatchObject({ status: 'dead' });

    for (const body of [{}, { since: 'yesterday' }, { since, extra: 1 }]) {
      expect((await api.call('POST', `/webhooks/${sub}/recover`, a.apiKey, body)).status).toBe(400);
    }
  });

  it('lists dead letters of the tenant, filtered by subscription and event type', async () => {
    const tenant = await createTenant(t.ds, { name: 'dlq-list' });
    const s1 = await t.subscribe(tenant.apiKey);
    const s2 = await t.subscribe(tenant.apiKey);
    const d1 = await t.seed(tenant.tenantId, s1, { status: 'dead', attempts: 6 });
    const d2 = await t.seed(tenant.tenantId, s2, {
      status: 'dead',
      attempts: 6,
      eventType: 'message.deleted',
    });
    await t.seed(tenant.tenantId, s1, { status: 'failed' });

    const all = await api.call('GET', '/dead-letters', tenant.readKey);
    expect(all.status).toBe(200);
    expect((all.body.data as { id: string }[]).map((d) => d.id)).toEqual([d2, d1]);
    expect(all.body.nextCursor).toBeNull();
    const bySub = await api.call('GET', `/dead-letters?subscriptionId=${s1}`, tenant.readKey);
    expect((bySub.body.data as { id: string }[]).map((d) => d.id)).toEqual([d1]);
    const byType = await api.call('GET', '/dead-letters?eventType=message.deleted', tenant.readKey);
    expect((byType.body.data as { id: string }[]).map((d) => d.id)).toEqual([d2]);
    const paged = await api.call('GET', '/dead-letters?limit=1', tenant.readKey);
    expect((paged.body.data as { id: string }[]).map((d) => d.id)).toEqual([d2]);
    const next = await api.call(
      'GET',
      `/dead-letters?limit=1&cursor=${String(paged.body.nextCursor)}`,
      tenant.readKey,
    );
    expect((next.body.data as { id: string }[]).map((d) => d.id)).toEqual([d1]);
  });

  it('replays one dead letter with a fresh schedule and refuses a delivery that is not dead', async () => {
    const sub = await t.subscribe(a.apiKey);
    const dead = await t.seed(a.tenantId, sub, { status: 'dead', attempts: 6 });
    const failed = await t.seed(a.tenantId, sub, { status: 'failed' });
    const res = await api.call('POST', `/dead-letters/${dead}/replay`, a.apiKey);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: dead, status: 'pending', attemptCount: 0, deadAt: null });
    expect(isDueNow(await t.row(dead))).toBe(true);
    const refused = await api.call('POST', `/dead-letters/${failed}/replay`, a.apiKey);
    expect(refused.status).toBe(409);
    expect(await t.row(failed)).toMatchObject({ status: 'failed' });
  });

  it('bulk replay counts with dryRun without changing anything, then replays exactly the filtered set', async () => {
    const tenant = await createTenant(t.ds, { name: 'dlq-replay' });
    const s1 = await t.subscribe(tenant.apiKey);
    const s2 = await t.subscribe(tenant.apiKey);
    const inWindow = [
      await t.seed(tenant.tenantId, s1, { status: 'dead', attempts: 6, failedMinutesAgo: 20 }),
      await t.seed(tenant.tenantId, s1, { status: 'dead', attempts: 6, failedMinutesAgo: 40 }),
    ];
    const tooOld = await t.seed(tenant.tenantId, s1, { status: 'dead', attempts: 6, failedMinutesAgo: 300 });
    const tooNew = await t.seed(tenant.tenantId, s1, { status: 'dead', attempts: 6, failedMinutesAgo: 1 });
    const wrongType = await t.seed(tenant.tenantId, s1, {
      status: 'dead',
      attempts: 6,
      failedMinutesAgo: 30,
      eventType: 'message.deleted',
    });
    const wrongSub = await t.seed(tenant.tenantId, s2, { status: 'dead', attempts: 6, failedMinutesAgo: 30 });
    const filter = {
      subscriptionId: s1,
      eventType: 'order.*',
      since: new Date(Date.now() - 60 * 60_000).toISOString(),
      until: new Date(Date.now() - 10 * 60_000).toISOString(),
    };

    const dry = await api.call('POST', '/dead-letters/replay', tenant.apiKey, { ...filter, dryRun: true });
    expect(dry.status).toBe(202);
    expect(dry.body).toEqual({ count: 2 });
    for (const id of [...inWindow, tooOld, tooNew, wrongType, wrongSub])
      expect(await t.row(id)).toMatchObject({ status: 'dead', attempt_count: 6 });

    const done = await api.call('POST', '/dead-letters/replay', tenant.apiKey, filter);
    expect(done.body).toEqual({ count: 2 });
    for (const id of inWindow) {
      const r = await t.row(id);
      expect(r).toMatchObject({ status: 'pending', attempt_count: 0, dead_at: null });
      expect(isDueNow(r)).toBe(true);
    }
    for (const id of [tooOld, tooNew, wrongType, wrongSub])
      expect(await t.row(id)).toMatchObject({ status: 'dead' });

    const everything = await api.call('POST', '/dead-letters/replay', tenant.apiKey, { dryRun: true });
    expect(everything.body).toEqual({ count: 4 });
    const bad = await api.call('POST', '/dead-letters/replay', tenant.apiKey, {
      since: filter.until,
      until: filter.since,
    });
    expect(bad.status).toBe(400);
    expect((await api.call('POST', '/dead-letters/replay', tenant.apiKey, { dryRun: 'yes' })).status).toBe(
      400,
    );
  });

  it("answers 404 for another tenant's deliveries on every endpoint and never touches them", async () => {
    const sub = await t.subscribe(a.apiKey);
    const dead = await t.seed(a.tenantId, sub, { status: 'dead', attempts: 6 });
    const calls: [string, string, unknown?][] = [
      ['GET', `/webhooks/${sub}/deliveries`],
      ['POST', `/webhooks/${sub}/recover`, { since: new Date(0).toISOString() }],
      ['GET', `/deliveries/${dead}`],
      ['POST', `/deliveries/${dead}/retry`],
      ['POST', `/dead-letters/${dead}/replay`],
      ['GET', `/dead-letters?subscriptionId=${sub}`],
    ];
    for (const [method, path, body] of calls) {
      const res = await api.call(method, path, b.apiKey, body);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const list = await api.call('GET', '/dead-letters', b.apiKey);
    expect(list.body.data).toEqual([]);
    const replay = await api.call('POST', '/dead-letters/replay', b.apiKey, {});
    expect(replay.body).toEqual({ count: 0 });
    expect(await t.row(dead)).toMatchObject({ status: 'dead', attempt_count: 6 });
  });
});
