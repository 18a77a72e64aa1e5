import type { AppProcess } from './support/app-process';
import { eventually } from './support/eventually';
import { startPipeline, type Pipeline } from './support/pipeline';
import { orderBody } from './support/factories/resources';
import { createTenant, type TestTenant } from './support/tenant';

/**
 * The logs of real app processes (api, webhook dispatcher, SSE gateway) read from their stdout, one JSON object a
 * line: access lines, the request id, a failed attempt's line, the lifecycle lines of a SIGTERM.
 */
type Line = Record<string, unknown>;

const ctx: {
  pipeline?: Pipeline;
  api?: AppProcess;
  dispatcher?: AppProcess;
  gateway?: AppProcess;
} = {};
let tenant: TestTenant;

const lines = (p: AppProcess): Line[] =>
  p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

beforeAll(async () => {
  const pipeline = (ctx.pipeline = await startPipeline({ env: { LOG_LEVEL: 'log' } }));
  // In this process, whose output is not under test: quiet.
  await pipeline.startRelay({ LOG_LEVEL: 'error' });
  tenant = await createTenant(pipeline.ds);
  [ctx.api, ctx.dispatcher, ctx.gateway] = await Promise.all([
    pipeline.spawn('api'),
    // A 10-minute first retry: one failed attempt in this test, not a stream of them.
    pipeline.spawn('webhook-dispatcher', { WEBHOOK_RETRY_SCHEDULE: '10m' }),
    pipeline.spawn('sse-gateway'),
  ]);
});

afterAll(async () => {
  await ctx.pipeline?.teardown();
});

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${ctx.api!.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${tenant.apiKey}`, ...init.headers },
  });

it('writes one access line per request with the route template, status, duration and request id, and no secret', async () => {
  const found = await call('/orders/ord_missing', { headers: { 'x-request-id': 'client-req.1' } });
  expect(found.status).toBe(404);
  const listed = await call('/orders?access_token=tok_secret_in_query&limit=1');
  const stream = new AbortController();
  const streamed = await fetch(
    `${ctx.gateway!.url}/events/stream?types=order.created&access_token=${tenant.apiKey}`,
    { signal: stream.signal },
  );
  stream.abort();

  const access = await eventually(() => {
    const api = lines(ctx.api!).filter((l) => l.message === 'request completed');
    const gateway = lines(ctx.gateway!).filter((l) => l.message === 'request completed');
    expect(api).toHaveLength(2);
    expect(gateway).toHaveLength(1);
    return { api, gateway };
  });
  expect(access.api[0]).toMatchObject({
    level: 'info',
    app: 'api',
    method: 'GET',
    route: '/orders/:id',
    status: 404,
    requestId: 'client-req.1',
  });
  expect(access.api[0].durationMs).toEqual(expect.any(Number));
  expect(access.api[1]).toMatchObject({
    route: '/orders',
    status: listed.status,
    requestId: listed.headers.get('x-request-id'),
  });
  expect(access.gateway[0]).toMatchObject({
    app: 'sse-gateway',
    method: 'GET',
    route: '/events/stream',
    status: streamed.status,
    requestId: streamed.headers.get('x-request-id'),
  });
  for (const p of [ctx.api!, ctx.gateway!]) {
    expect(p.output()).not.toContain('tok_secret_in_query');
    expect(p.output()).not.toContain(tenant.apiKey);
    expect(p.output()).not.toContain('access_token');
    expect(p.output().toLowerCase()).not.toContain('bearer');
  }
});

it('echoes a sane X-Request-Id, replaces any other, and puts it in every problem+json body', async () => {
  const echoed = await call('/orders/ord_missing', { headers: { 'x-request-id': 'abc-123' } });
  expect(echoed.headers.get('x-request-id')).toBe('abc-123');
  expect(echoed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await echoed.json()).toMatchObject({ status: 404, requestId: 'abc-123' });

  for (const unsafe of ['has spaces', 'x'.repeat(129), '"quoted"']) {
    const res = await call('/orders/ord_missing', { headers: { 'x-request-id': unsafe } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ requestId: id });
  }

  // Refused by the body parser, before any route: still an id, in the header and the body.
  const malformed = await call('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"not json',
  });
  expect(malformed.status).toBe(400);
  const generated = malformed.headers.get('x-request-id');
  expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  expect(await malformed.json()).toMatchObject({ requestId: generated });
  // A success carries one too.
  const ok = await call('/orders?limit=1');
  expect(ok.status).toBe(200);
  expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  await eventually(() =>
    expect(lines(ctx.api!)).toContainEqual(
      expect.objectContaining({ message: 'request completed', status: 400, requestId: generated }),
    ),
  );
});

it('logs a failed webhook attempt with its ids and reason as fields', async () => {
  ctx.pipeline!.receiver.always('/failing', { status: 503 });
  const created = await call('/webhooks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: ctx.pipeline!.receiver.url('/failing'), eventTypes: ['order.created'] }),
  });
  expect(created.status).toBe(201);
  const { id: subscriptionId, secret } = (await created.json()) as { id: string; secret: string };
  ctx.pipeline!.receiver.expectSecrets('/failing', secret);
  const order = await call('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(orderBody()),
  });
  expect(order.status).toBe(201);

  const failed = await eventually(
    () => {
      const got = lines(ctx.dispatcher!).filter((l) => l.message === 'webhook attempt failed');
      expect(got).toHaveLength(1);
      return got[0];
    },
    { timeoutMs: 45_000 },
  );
  const [delivery] = await ctx.pipeline!.ds.query<{ id: string; event_id: string }[]>(
    'SELECT id, event_id FROM webhook_deliveries WHERE subscription_id = $1',
    [subscriptionId],
  );
  expect(failed).toMatchObject({
    level: 'warn',
    app: 'webhook-dispatcher',
    tenantId: tenant.tenantId,
    subscriptionId,
    deliveryId: delivery.id,
    eventId: delivery.event_id,
    eventType: 'order.created',
    attempt: 1,
    status: 503,
    reason: 'HTTP 503',
  });
  expect(failed.position).toEqual(expect.any(Number));
  expect(failed.durationMs).toEqual(expect.any(Number));
  expect(Date.parse(failed.nextAttemptAt as string)).toBeGreaterThan(Date.now());
});

it('logs start, ready, draining and stopped, and ends by the signal, on SIGTERM', async () => {
  for (const [p, app] of [
    [ctx.api!, 'api'],
    [ctx.dispatcher!, 'webhook-dispatcher'],
  ] as const) {
    await p.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' });
    const lifecycle = lines(p).filter((l) => l.context === 'Lifecycle');
    expect(lifecycle.map((l) => l.lifecycle)).toEqual(['start', 'ready', 'draining', 'stopped']);
    for (const l of lifecycle) expect(l.app).toBe(app);
    expect(lifecycle[2].signal).toBe('SIGTERM');
    expect(lifecycle[3].durationMs).toEqual(expect.any(Number));
  }
});
