import type { EventEnvelope } from '@tidings/events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOrder } from './support/factories/resources';
import { eventually } from './support/eventually';
import { startDedicatedKafka } from './support/infra';
import { type PipelineApp as App, startPipeline } from './support/pipeline';
import { SseClient } from './support/sse-client';
import { createTenant } from './support/tenant';

/**
 * The readiness answers docs/operations.md documents, keyed `<app> <phase>`: the test compares every app's
 * /health/ready against them, so the document cannot drift from what the apps say.
 */
function documentedReadiness(): Map<string, { status: number; body: unknown }> {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'operations.md'), 'utf8');
  const answers = new Map<string, { status: number; body: unknown }>();
  for (const m of doc.matchAll(/<!-- readiness: (\S+) (\S+) (\d{3}) -->\s*```json\n([\s\S]*?)```/g)) {
    const body = JSON.parse(m[4]) as Record<string, unknown>;
    // A problem's requestId is the response's X-Request-Id: the doc shows one, each answer has its own.
    if ('requestId' in body) body.requestId = expect.any(String);
    answers.set(`${m[1]} ${m[2]}`, { status: Number(m[3]), body });
  }
  return answers;
}

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/health/ready`);
  return { status: res.status, body: await res.json() };
}

/**
 * The platform with its broker away: every app boots, answers readiness by what its requests need, the api
 * keeps taking writes, the gateway keeps streaming from the log (replay and live); when the broker returns,
 * every event is delivered to the webhook exactly once and streamed once, in order, and all apps are ready.
 * A dedicated broker (test/support/infra.ts) is stopped and started: the shared one stays up.
 */
async function setup() {
  const broker = await startDedicatedKafka();
  // Topics are provisioned (npm run dev does it) before the outage begins.
  const pipeline = await startPipeline({ brokers: broker.brokers, env: { NODE_ENV: 'test' } });
  await broker.stop();

  const { ds, receiver } = pipeline;
  const api = await pipeline.startApi();
  const relay = await pipeline.startRelay({ RELAY_SHARD_RENEW_MS: '200' });
  const dispatcher = await pipeline.startDispatcher({ WEBHOOK_POLL_MAX_MS: '50' });
  const gateway = await pipeline.startGateway({ SSE_RETRY_MS: '100' });
  const urls: Record<App, string> = {
    api: api.url,
    'outbox-relay': relay.url,
    'webhook-dispatcher': dispatcher.url,
    'sse-gateway': gateway.url,
  };

  const streams: SseClient[] = [];
  /** The tenant's order events in the log, positioned, in position order. */
  const positionedOrders = async (tenantId: string) =>
    (
      await ds.query<{ event_id: string; position: string }[]>(
        `SELECT event_id, position FROM event_log
          WHERE tenant_id = $1 AND resource_type = 'order' AND position IS NOT NULL ORDER BY position`,
        [tenantId],
      )
    ).map((r) => ({ eventId: r.event_id, position: Number(r.position) }));
  return {
    broker,
    ds,
    api,
    receiver,
    urls,
    openStream: async (key: string, lastEventId: string) => {
      const stream = await SseClient.connect(`${urls['sse-gateway']}/events/stream?types=order.*`, {
        token: key,
        lastEventId,
      });
      streams.push(stream);
      return stream;
    },
    positionedOrders,
    /** A new tenant with a webhook on `path` for its order events (the receiver checks their signatures). */
    subscribedTenant: async (name: string, path: string) => {
      const tenant = await createTenant(ds, { name });
      const hook = await api.call('POST', '/webhooks', tenant.apiKey, {
        url: receiver.url(path),
        eventTypes: ['order.*'],
      });
      expect(hook.status).toBe(201);
      receiver.expectSecrets(path, hook.body.secret as string);
      return tenant;
    },
    /** Waits until the tenant has `count` positioned order events, each delivered to `path`; returns them. */
    allDelivered: (tenantId: string, path: string, count: number) =>
      eventually(
        async () => {
          const logged = await positionedOrders(tenantId);
          expect(logged).toHaveLength(count);
          expect(
            receiver
              .delivered(path)
              .map((r) => r.headers['webhook-id'])
              .sort(),
          ).toEqual(logged.map((e) => e.eventId).sort());
          return logged;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      ),
    teardown: async () => {
      for (const s of streams) s.close();
      await pipeline.teardown();
      await broker.dispose();
    },
  };
}

describe('a broker outage (dedicated broker)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    ctx = await setup();
  }, 120_000);
  afterAll(async () => {
    await ctx?.teardown();
  }, 60_000);

  it('boots every app without the broker, keeps writes and streams going, and delivers everything once it returns', async () => {
    const documented = documentedReadiness();
    const apps: App[] = ['api', 'outbox-relay', 'webhook-dispatcher', 'sse-gateway'];
    // Booted (createApp resolved, listening) and live, with the broker down.
    for (const app of apps) expect((await fetch(`${ctx.urls[app]}/health/live`)).status).toBe(200);
    for (const app of apps) expect(await readiness(ctx.urls[app])).toEqual(documented.get(`${app} outage`));

    const tenant = await ctx.subscribedTenant('outage', '/outage');
    const place = (n: number) => createOrder(ctx.api, tenant.apiKey, { customerId: `cus_outage_${n}` });
    for (let n = 0; n < 5; n++) await place(n);

    // The relay sequences without Kafka, so a stream resumed during the outage gets its replay from the log…
    const early = await eventually(async () => {
      const logged = await ctx.positionedOrders(tenant.tenantId);
      expect(logged).toHaveLength(5);
      return logged;
    });
    const stream = await ctx.openStream(tenant.apiKey, String(early[0].position));
    await eventually(() =>
      expect(stream.events.map((e) => e.eventId)).toEqual(early.slice(1).map((e) => e.eventId)),
    );
    // …and live events keep arriving from the log while the broker is away.
    for (let n = 5; n < 8; n++) await place(n);
    await eventually(async () => {
      const logged = await ctx.positionedOrders(tenant.tenantId);
      expect(logged).toHaveLength(8);
      expect(stream.events.map((e) => e.eventId)).toEqual(logged.slice(1).map((e) => e.eventId));
    });
    expect(ctx.receiver.all('/outage')).toHaveLength(0);

    await ctx.broker.start();
    // Every app reconnects on its own and becomes ready; then new writes flow through Kafka again.
    await eventually(
      async () => {
        for (const app of apps)
          expect(await readiness(ctx.urls[app])).toEqual(documented.get(`${app} recovered`));
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    for (let n = 8; n < 11; n++) await place(n);

    const all = await ctx.allDelivered(tenant.tenantId, '/outage', 11);
    // Exactly once each: no request beyond the eleven deliveries, every one verified.
    expect(ctx.receiver.all('/outage')).toHaveLength(11);
    expect(ctx.receiver.all('/outage').every((r) => r.verified)).toBe(true);
    // Streamed once each, in position order, no gap: the frames are exactly the log after the resume point.
    await eventually(() =>
      expect(stream.events.map((e: EventEnvelope) => e.eventId)).toEqual(all.slice(1).map((e) => e.eventId)),
    );
    expect(stream.openCount).toBe(1);
  }, 240_000);

  it('recovers from a broker lost after connecting: consumers rejoin, nothing is lost or doubled', async () => {
    const tenant = await ctx.subscribedTenant('outage-again', '/again');
    const place = (n: number) => createOrder(ctx.api, tenant.apiKey, { customerId: `cus_again_${n}` });
    await place(0);
    await eventually(() => expect(ctx.receiver.delivered('/again')).toHaveLength(1), { timeoutMs: 30_000 });
    const [first] = await ctx.positionedOrders(tenant.tenantId);
    const stream = await ctx.openStream(tenant.apiKey, String(first.position));

    // A crash this time (SIGKILL), the harsher loss, and quicker than a controlled shutdown.
    await ctx.broker.kill();
    // The dispatcher's consumer notices the loss (kafkajs gives up, the consumer crashes) and says so.
    await eventually(async () => expect((await readiness(ctx.urls['webhook-dispatcher'])).status).toBe(503), {
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    for (let n = 1; n < 4; n++) await place(n);
    await ctx.broker.start();

    const all = await ctx.allDelivered(tenant.tenantId, '/again', 4);
    expect(ctx.receiver.all('/again')).toHaveLength(4);
    await eventually(() =>
      expect(stream.events.map((e) => e.eventId)).toEqual(all.slice(1).map((e) => e.eventId)),
    );
    const apps: App[] = ['api', 'outbox-relay', 'webhook-dispatcher', 'sse-gateway'];
    await eventually(
      async () => {
        for (const app of apps) expect((await readiness(ctx.urls[app])).status).toBe(200);
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  }, 240_000);
});
