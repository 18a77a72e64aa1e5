import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { setupApiTest, startApi, type TestApi } from '../../../../test/support/api-app';
import { writeOrderEvent } from '../../../../test/support/event-writer';
import { assignPositions } from '../../../../test/support/positions';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';
import { IPV6_OUTSIDE_GLOBAL_UNICAST_URLS } from '../../../../test/fixtures/ssrf-ipv6';

interface LogRow {
  event_type: string;
  sequence: number;
  data: Record<string, unknown>;
  source: string;
}

async function setup() {
  const test = await setupApiTest({ WEBHOOK_ALLOWED_HOSTS: 'allowed.localhost' });
  const { ds } = test;
  const eventsOf = (resourceId: string) =>
    ds.query<LogRow[]>(
      `SELECT event_type, sequence, data, source FROM event_log
       WHERE resource_type = 'webhook' AND resource_id = $1 ORDER BY sequence`,
      [resourceId],
    );
  const count = async (sql: string, params: unknown[] = []) =>
    Number(((await ds.query(sql, params)) as { n: number }[])[0].n);
  return { ...test, eventsOf, count };
}

const HOOK = 'https://hooks.example.com/tidings';

const SSRF_SPELLINGS = IPV6_OUTSIDE_GLOBAL_UNICAST_URLS.map((u) => u.replace(/^http:/, 'https:'));

describe('webhook subscriptions API', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    t = await setup();
    ({ api, a, b } = t);
  });

  afterAll(() => t.close());

  const create = (key: string, body: Record<string, unknown> = {}) =>
    api.call('POST', '/webhooks', key, { url: HOOK, eventTypes: ['order.*'], ...body });

  it('creates a subscription and shows its whsec_ secret only in the creation response', async () => {
    const res = await create(a.apiKey, {
      description: 'fulfilment',
      metadata: { team: 'ops' },
      versionPins: { 'order.created': 1 },
      strictOrdering: true,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      url: HOOK,
      eventTypes: ['order.*'],
      description: 'fulfilment',
      metadata: { team: 'ops' },
      versionPins: { 'order.created': 1 },
      strictOrdering: true,
      status: 'active',
      consecutiveFailures: 0,
      version: 1,
      previousSecretExpiresAt: null,
    });
    expect(res.body.id).toMatch(/^whk_[0-9a-f]{32}$/);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const id = res.body.id as string;

    const got = await api.call('GET', `/webhooks/${id}`, a.readKey);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, url: HOOK, version: 1 });
    expect(got.body).not.toHaveProperty('secret');
    expect(JSON.stringify(got.body)).not.toContain('whsec_');

    const list = await api.call('GET', '/webhooks', a.readKey);
    expect(list.status).toBe(200);
    expect((list.body.data as { id: string }[]).map((w) => w.id)).toContain(id);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
  });

  it('pages GET /webhooks with a cursor: every subscription exactly once, oldest first', async () => {
    const tenant = await createTenant(t.ds, { name: 'pager' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(tenant.apiKey)).body.id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Record<string, unknown> } = await api.call(
        'GET',
        `/webhooks?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        tenant.readKey,
      );
      expect(page.status).toBe(200);
      seen.push(...(page.body.data as { id: string }[]).map((w) => w.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect((await api.call('GET', '/webhooks?cursor=garbage', tenant.readKey)).status).toBe(400);
    expect((await api.call('GET', '/webhooks?limit=0', tenant.readKey)).status).toBe(400);
  });

  it.each([
    ['https://127.0.0.1/hook', 'forbidden_address'],
    ['https://127.1/hook', 'forbidden_address'],
    ['https://2130706433/hook', 'forbidden_address'],
    ['https://0x7f000001/hook', 'forbidden_address'],
    ['https://0177.0.0.1/hook', 'forbidden_address'],
    ['https://[::1]/hook', 'forbidden_address'],
    ['https://[::ffff:127.0.0.1]/hook', 'forbidden_address'],
    ...SSRF_SPELLINGS.map((url) => [url, 'forbidden_address']),
    ['https://169.254.169.254/latest/meta-data', 'forbidden_address'],
    ['https://10.0.0.1/hook', 'forbidden_address'],
    ['https://192.168.1.1/hook', 'forbidden_address'],
    ['https://100.64.0.1/hook', 'forbidden_address'],
    ['https://0.0.0.0/hook', 'forbidden_address'],
    ['https://localhost/hook', 'forbidden_address'],
    ['https://api.localhost/hook', 'forbidden_address'],
    ['http://hooks.example.com/hook', 'https_required'],
    ['https://user:pass@hooks.example.com/hook', 'credentials_not_allowed'],
    ['ftp://hooks.example.com/hook', 'unsupported_scheme'],
  ])('rejects %s at creation with 422 (%s) and writes nothing', async (url, reason) => {
    const before = await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions');
    const eventsBefore = await t.count('SELECT count(*)::int AS n FROM event_log');
    const res = await api.call('POST', '/webhooks', a.apiKey, { url, eventTypes: ['*'] });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 422, reason });
    expect(res.body.errors?.[0]).toMatchObject({ field: 'url' });
    expect(await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions')).toBe(before);
    expect(await t.count('SELECT count(*)::int AS n FROM event_log')).toBe(eventsBefore);
  });

  it('accepts an allowlisted loopback name and rejects a malformed URL with 400', async () => {
    expect((await create(a.apiKey, { url: 'https://allowed.localhost/hook' })).status).toBe(201);
    const bad = await create(a.apiKey, { url: 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ reason: 'invalid_url' });
  });

  it('rejects the same SSRF targets when a PATCH changes the URL, changing nothing', async () => {
    const id = (await create(a.apiKey)).body.id as string;
    for (const url of [
      ...SSRF_SPELLINGS,
      'https://0x7f000001/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost/',
    ]) {
      const res = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { url });
      expect([url, res.status]).toEqual([url, 422]);
      expect(res.body).toMatchObject({ reason: 'forbidden_address' });
    }
    expect((await api.call('GET', `/webhooks/${id}`, a.apiKey)).body).toMatchObject({
      url: HOOK,
      version: 1,
    });
    expect(await t.eventsOf(id)).toHaveLength(1);
  });

  it('rejects the IPv6 spellings outside global unicast for the alert endpoint, changing nothing', async () => {
    const before = await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions');
    for (const url of SSRF_SPELLINGS) {
      const res = await api.call('PUT', '/alert-endpoint', a.apiKey, { url });
      expect([url, res.status]).toEqual([url, 422]);
      expect(res.body).toMatchObject({ reason: 'forbidden_address' });
    }
    expect((await api.call('GET', '/alert-endpoint', a.apiKey)).status).toBe(404);
    expect(await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions')).toBe(before);
  });

  it('rejects invalid filters, pins and unknown fields with a precise 400 that writes nothing', async () => {
    const before = await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions');
    const cases: [Record<string, unknown>, string][] = [
      [{ eventTypes: ['order.nope'] }, 'eventTypes'],
      [{ eventTypes: ['order*'] }, 'eventTypes'],
      [{ eventTypes: [] }, 'eventTypes'],
      [{ versionPins: { 'order.created': 7 } }, 'versionPins'],
      [{ versionPins: { 'order.unknown': 1 } }, 'versionPins'],
      [{ metadata: { k: 1 } }, 'metadata'],
      [{ secret: 'whsec_mine' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const res = await create(a.apiKey, body);
      expect(res.status).toBe(400);
      expect(res.body.errors?.map((e) => e.field)).toContain(field);
    }
    const id = (await create(a.apiKey)).body.id as string;
    const patches: [Record<string, unknown>, string][] = [
      [{ url: null }, 'url'],
      [{ eventTypes: null }, 'eventTypes'],
      [{ metadata: null }, 'metadata'],
      [{ versionPins: null }, 'versionPins'],
      [{ strictOrdering: 'yes' }, 'strictOrdering'],
      [{ status: 'paused' }, 'status'],
      [{ status: 'active', replayFrom: 'last tuesday' }, 'replayFrom'],
      [{ secrets: [] }, 'secrets'],
    ];
    for (const [body, field] of patches) {
      const res = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, body);
      expect(res.status).toBe(400);
      expect(res.body.errors?.map((e) => e.field)).toContain(field);
    }
    expect(await t.eventsOf(id)).toHaveLength(1);
    const pinned = await create(a.apiKey, { versionPins: { 'order.created': 7 } });
    expect(pinned.body.detail).toContain('order.created has no version 7 (supported: 1, 2)');
    expect(await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions')).toBe(before + 1);
  });

  it('takes maxInFlight on create and PATCH up to the operator limit, shows the default without it, and records it', async () => {
    const plain = await create(a.apiKey);
    expect(plain.status).toBe(201);
    // No setting: the operator's default (WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION, 16), stored as none.
    expect(plain.body.maxInFlight).toBe(16);
    const fast = await create(a.apiKey, { maxInFlight: 48 });
    expect(fast.status).toBe(201);
    expect(fast.body.maxInFlight).toBe(48);
    const id = fast.body.id as string;
    expect((await api.call('GET', `/webhooks/${id}`, a.readKey)).body.maxInFlight).toBe(48);

    const lowered = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { maxInFlight: 4 });
    expect(lowered.status).toBe(200);
    expect(lowered.body).toMatchObject({ maxInFlight: 4, version: 2 });
    const reset = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { maxInFlight: null });
    expect(reset.body).toMatchObject({ maxInFlight: 16, version: 3 });
    // The same value again changes nothing and records nothing.
    expect((await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { maxInFlight: null })).body).toMatchObject({
      version: 3,
    });
    const events = await t.eventsOf(id);
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({ subscriptionId: id, maxInFlight: 48 }),
      { subscriptionId: id, changes: { maxInFlight: 4 } },
      { subscriptionId: id, changes: { maxInFlight: null } },
    ]);
    const [row] = await t.ds.query<{ max_in_flight: number | null }[]>(
      'SELECT max_in_flight FROM webhook_subscriptions WHERE id = $1',
      [plain.body.id],
    );
    expect(row.max_in_flight).toBeNull();
  });

  it('rejects a maxInFlight out of 1..the operator limit with a precise 400 that changes nothing', async () => {
    const before = await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions');
    const cases: [unknown, string][] = [
      [49, "maxInFlight must not be greater than 48, the operator's limit"],
      [1_000, "maxInFlight must not be greater than 48, the operator's limit"],
      [0, 'maxInFlight must not be less than 1'],
      [-3, 'maxInFlight must not be less than 1'],
      [2.5, 'maxInFlight must be an integer number'],
      ['16', 'maxInFlight must be an integer number'],
    ];
    for (const [maxInFlight, detail] of cases) {
      const res = await create(a.apiKey, { maxInFlight });
      expect({ maxInFlight, status: res.status, type: res.headers.get('content-type') }).toEqual({
        maxInFlight,
        status: 400,
        type: expect.stringContaining('application/problem+json'),
      });
      expect(res.body.errors?.map((e) => e.field)).toEqual(['maxInFlight']);
      expect(res.body.detail).toContain(detail);
    }
    expect(await t.count('SELECT count(*)::int AS n FROM webhook_subscriptions')).toBe(before);
    const id = (await create(a.apiKey, { maxInFlight: 8 })).body.id as string;
    for (const [maxInFlight, detail] of cases) {
      const res = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { maxInFlight, description: 'x' });
      expect({ maxInFlight, status: res.status }).toEqual({ maxInFlight, status: 400 });
      expect(res.body.detail).toContain(detail);
    }
    expect((await api.call('GET', `/webhooks/${id}`, a.apiKey)).body).toMatchObject({
      maxInFlight: 8,
      description: null,
      version: 1,
    });
    expect(await t.eventsOf(id)).toHaveLength(1);
  });

  it('clamps a saved maxInFlight to a limit the operator lowered later, and takes values up to it', async () => {
    const id = (await create(a.apiKey, { maxInFlight: 40 })).body.id as string;
    const strict = await startApi(t.db.url, {
      WEBHOOK_ALLOWED_HOSTS: 'allowed.localhost',
      WEBHOOK_MAX_IN_FLIGHT_LIMIT: '8',
      WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '4',
    });
    try {
      expect((await strict.call('GET', `/webhooks/${id}`, a.readKey)).body.maxInFlight).toBe(8);
      const res = await strict.call('PATCH', `/webhooks/${id}`, a.apiKey, { maxInFlight: 9 });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe("maxInFlight must not be greater than 8, the operator's limit");
      const plain = await strict.call('POST', '/webhooks', a.apiKey, { url: HOOK, eventTypes: ['order.*'] });
      expect(plain.body.maxInFlight).toBe(4);
    } finally {
      await strict.app.close();
    }
    // Saved as asked: raising the limit again gives it back its 40.
    expect((await api.call('GET', `/webhooks/${id}`, a.readKey)).body.maxInFlight).toBe(40);
  });

  it('records every change as an audit event of the subscription, numbered by version, with no secret', async () => {
    const created = await create(a.apiKey);
    const id = created.body.id as string;
    const secrets = [created.body.secret as string];
    const patched = await api.call('PATCH', `/webhooks/${id}`, a.apiKey, {
      eventTypes: ['order.*', 'message.received'],
      description: 'v2',
      versionPins: { 'order.created': 2 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 2, description: 'v2' });
    const rotated = await api.call('POST', `/webhooks/${id}/rotate-secret`, a.apiKey);
    expect(rotated.status).toBe(200);
    secrets.push(rotated.body.secret as string);
    expect((await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { status: 'disabled' })).status).toBe(200);
    expect((await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { status: 'active' })).status).toBe(200);
    // A PATCH that changes nothing records nothing.
    expect((await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { description: 'v2' })).body).toMatchObject({
      version: 5,
    });
    expect((await api.call('DELETE', `/webhooks/${id}`, a.apiKey)).status).toBe(204);

    const events = await t.eventsOf(id);
    expect(events.map((e) => [e.sequence, e.event_type])).toEqual([
      [1, 'webhook.subscription.created'],
      [2, 'webhook.subscription.updated'],
      [3, 'webhook.subscription.secret_rotated'],
      [4, 'webhook.subscription.disabled'],
      [5, 'webhook.subscription.enabled'],
      [6, 'webhook.subscription.deleted'],
    ]);
    expect(events.every((e) => e.source === 'tidings/api')).toBe(true);
    expect(events[0].data).toEqual({
      subscriptionId: id,
      url: HOOK,
      eventTypes: ['order.*'],
      description: null,
      metadata: {},
      versionPins: {},
      status: 'active',
      strictOrdering: false,
      maxInFlight: null,
    });
    expect(events[1].data).toEqual({
      subscriptionId: id,
      changes: {
        eventTypes: ['order.*', 'message.received'],
        description: 'v2',
        versionPins: { 'order.created': 2 },
      },
    });
    expect(events[3].data).toMatchObject({ reason: 'manual' });
    expect(events[4].data).toMatchObject({ replayFrom: null });
    const [row] = await t.ds.query<{ version: number; secrets: { secret: string }[] }[]>(
      'SELECT version, secrets FROM webhook_subscriptions WHERE id = $1',
      [id],
    );
    expect(row.version).toBe(6);
    secrets.push(...row.secrets.map((s) => s.secret));
    const allData = JSON.stringify(
      await t.ds.query<{ data: unknown }[]>('SELECT data FROM event_log WHERE tenant_id = $1', [a.tenantId]),
    );
    expect(allData).not.toContain('whsec_');
    for (const secret of secrets) expect(allData).not.toContain(secret.slice('whsec_'.length));

    expect((await api.call('GET', `/webhooks/${id}`, a.apiKey)).status).toBe(404);
    expect((await api.call('DELETE', `/webhooks/${id}`, a.apiKey)).status).toBe(404);
  });

  it('rotating keeps the previous secret signing until the grace period ends, and shows the new one once', async () => {
    const created = await create(a.apiKey);
    const id = created.body.id as string;
    const before = Date.now();
    const rotated = await api.call('POST', `/webhooks/${id}/rotate-secret`, a.apiKey);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const expiresAt = Date.parse(rotated.body.previousSecretExpiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);

    const [row] = await t.ds.query<{ secrets: { secret: string; expiresAt: string | null }[] }[]>(
      'SELECT secrets FROM webhook_subscriptions WHERE id = $1',
      [id],
    );
    expect(row.secrets).toEqual([
      { secret: rotated.body.secret, expiresAt: null },
      { secret: created.body.secret, expiresAt: rotated.body.previousSecretExpiresAt },
    ]);
    const got = await api.call('GET', `/webhooks/${id}`, a.apiKey);
    expect(got.body.previousSecretExpiresAt).toBe(rotated.body.previousSecretExpiresAt);
    expect(JSON.stringify(got.body)).not.toContain('whsec_');
    const [event] = (await t.eventsOf(id)).filter((e) => e.event_type.endsWith('secret_rotated'));
    expect(event.data).toEqual({
      subscriptionId: id,
      rotatedAt: expect.any(String) as string,
      previousSecretExpiresAt: rotated.body.previousSecretExpiresAt,
    });
  });

  it('emits webhook.test for the subscription through the outbox, and refuses it while disabled', async () => {
    const id = (await create(a.apiKey, { eventTypes: ['message.received'] })).body.id as string;
    const res = await api.call('POST', `/webhooks/${id}/test`, a.apiKey, { message: 'ping' });
    expect(res.status).toBe(202);
    const [event] = await t.ds.query<LogRow[]>(
      `SELECT e.event_type, e.sequence, e.data, e.source FROM event_log e
       JOIN outbox o ON o.event_log_id = e.id WHERE e.event_id = $1 AND e.resource_id = $2`,
      [res.body.eventId, id],
    );
    expect(event).toMatchObject({
      event_type: 'webhook.test',
      sequence: 2,
      data: { subscriptionId: id, message: 'ping' },
    });
    await api.call('PATCH', `/webhooks/${id}`, a.apiKey, { status: 'disabled' });
    const refused = await api.call('POST', `/webhooks/${id}/test`, a.apiKey, {});
    expect(refused.status).toBe(409);
    expect((await t.eventsOf(id)).map((e) => e.event_type)).toEqual([
      'webhook.subscription.created',
      'webhook.test',
      'webhook.subscription.disabled',
    ]);
  });

  it('re-enabling with replayFrom schedules exactly the matching events it did not receive', async () => {
    const tenant = await createTenant(t.ds, { name: 'replay' });
    const created = await api.call('POST', '/webhooks', tenant.apiKey, {
      url: HOOK,
      eventTypes: ['order.*'],
    });
    const id = created.body.id as string;
    const other = (await api.call('POST', '/webhooks', tenant.apiKey, { url: HOOK, eventTypes: ['order.*'] }))
      .body.id as string;
    await assignPositions(t.ds);
    await api.call('PATCH', `/webhooks/${id}`, tenant.apiKey, { status: 'disabled' });
    const start = new Date(Date.now() - 1000).toISOString();
    // Missed while disabled: two order events and one message event (filtered out).
    const eventIds: string[] = [];
    for (const orderId of ['ord_r1', 'ord_r2'])
      eventIds.push((await writeOrderEvent(t.ds, tenant.tenantId, orderId)).eventId);
    await transaction(t.ds, (tx) =>
      appendEvent(
        tx,
        buildEvent({
          eventType: 'message.deleted',
          tenantId: tenant.tenantId,
          resourceId: 'msg_1',
          sequence: 1,
          source: 'tidings/test',
          data: { messageId: 'msg_1', deletedAt: new Date().toISOString() },
        }),
      ),
    );
    await assignPositions(t.ds);
    // The first one had been delivered (say, before the disable took effect): it is not sent again.
    await t.ds.query(
      `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                       resource_id, sequence, status, attempt_count)
       SELECT 'dlv_done', tenant_id, $2, event_id, event_type, position, resource_id, sequence, 'succeeded', 1
       FROM event_log WHERE event_id = $1`,
      [eventIds[0], id],
    );
    await t.ds.query(`UPDATE webhook_subscriptions SET consecutive_failures = 5 WHERE id = $1`, [id]);

    const enabled = await api.call('PATCH', `/webhooks/${id}`, tenant.apiKey, {
      status: 'active',
      replayFrom: start,
    });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({
      status: 'active',
      consecutiveFailures: 0,
      disabledReason: null,
      replayedDeliveries: 1,
    });
    const deliveries = await t.ds.query<{ event_id: string; status: string; subscription_id: string }[]>(
      `SELECT event_id, status, subscription_id FROM webhook_deliveries WHERE tenant_id = $1 ORDER BY id`,
      [tenant.tenantId],
    );
    expect(deliveries).toEqual(
      expect.arrayContaining([
        { event_id: eventIds[0], status: 'succeeded', subscription_id: id },
        { event_id: eventIds[1], status: 'pending', subscription_id: id },
      ]),
    );
    expect(deliveries).toHaveLength(2);
    expect(deliveries.some((d) => d.subscription_id === other)).toBe(false);
    const enabledEvent = (await t.eventsOf(id)).at(-1);
    expect(enabledEvent).toMatchObject({
      event_type: 'webhook.subscription.enabled',
      data: { subscriptionId: id, url: HOOK, replayFrom: start },
    });

    const again = await api.call('PATCH', `/webhooks/${id}`, tenant.apiKey, { replayFrom: start });
    expect(again.status).toBe(400);
    expect(again.body.errors?.[0]).toMatchObject({ field: 'replayFrom' });
  });

  it("answers 404 for another tenant's subscription on every endpoint, and changes nothing", async () => {
    const id = (await create(a.apiKey)).body.id as string;
    const calls: [string, string, unknown?][] = [
      ['GET', `/webhooks/${id}`],
      ['PATCH', `/webhooks/${id}`, { description: 'hijack' }],
      ['DELETE', `/webhooks/${id}`],
      ['POST', `/webhooks/${id}/rotate-secret`],
      ['POST', `/webhooks/${id}/test`, {}],
    ];
    for (const [method, path, body] of calls) {
      const res = await api.call(method, path, b.apiKey, body);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const list = await api.call('GET', '/webhooks', b.apiKey);
    expect((list.body.data as { id: string }[]).map((w) => w.id)).not.toContain(id);
    expect(await t.eventsOf(id)).toHaveLength(1);
  });
});
