import type { INestApplication } from '@nestjs/common';
import { generateSecret } from '@tidings/signing';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { freePort } from '../scripts/infra/ports';
import { startApi, type TestApi } from './support/api-app';
import { createOrder } from './support/factories/resources';
import { runCli, startCli, type CliProcess } from './support/cli-process';
import { eventually } from './support/eventually';
import { sseHarness, type SseHarness } from './support/sse-harness';
import { createTenant, type TestTenant } from './support/tenant';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * A TCP proxy to the gateway whose open connections can go silent without closing: what a laptop's stream
 * looks like after it slept (the server and the NAT dropped it; the client's socket still looks open).
 */
async function stallingProxy(targetPort: number) {
  const open = new Set<{ client: Socket; upstream: Socket }>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** The connections open now stop carrying the gateway's bytes; new ones work. */
    stall: () => {
      for (const { client, upstream } of open) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    close: () => {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * `npm run tidings`: the developer commands against the real api, relay and gateway (in-process, on the
 * shared Postgres and Kafka) run as the child process a developer starts; the operator commands on the
 * test database.
 */
// Each command is a cold start of ts-node (seconds on a loaded 2-core machine): generous bounds, no timing asserted.
const SLOW = 240_000;
const START = { timeoutMs: 90_000 };

describe('tidings CLI', () => {
  let h: SseHarness;
  let api: TestApi;
  let gw: { app: INestApplication; url: string };
  let ssePort: number;
  let tenant: TestTenant;
  let receiver: WebhookReceiver;
  let env: Record<string, string>;
  const running: CliProcess[] = [];

  beforeAll(async () => {
    h = await sseHarness();
    api = await startApi(h.env.DATABASE_URL, h.env);
    ssePort = await freePort();
    gw = await h.startGateway({ SSE_PORT: String(ssePort) });
    tenant = await createTenant(h.ds, { name: 'cli tenant' });
    receiver = await WebhookReceiver.start();
    env = { TIDINGS_API_URL: api.url, TIDINGS_SSE_URL: gw.url, TIDINGS_API_KEY: tenant.apiKey };
  }, SLOW);

  const placeOrder = async () => (await createOrder(api, tenant.apiKey, { customerId: 'cus_cli' })).id;

  afterAll(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await receiver?.close();
    await api?.app.close();
    await h?.teardown();
  });

  it(
    'prints its usage on --help (exit 0) and names what is missing with exit 64 or 78',
    async () => {
      // Independent runs, in parallel: each is a cold start of the command.
      const [help, unknown, noDatabase, noKey, badOption, badIdle] = await Promise.all([
        runCli(['--help']),
        runCli(['bogus']),
        runCli(['create-tenant', 'acme']),
        runCli(['listen', '--forward-to', receiver.url('/hook')]),
        runCli(['listen', '--forward-to'], env),
        runCli(['listen', '--forward-to', receiver.url('/x')], { ...env, TIDINGS_LISTEN_IDLE_MS: '0' }),
      ]);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: npm run tidings -- <command>/);
      expect(help.stdout).toMatch(/listen --forward-to <url>/);
      expect(unknown.code).toBe(64);
      expect(unknown.stderr).toMatch(/unknown command: bogus/);
      expect(noDatabase.code).toBe(78);
      expect(noDatabase.stderr).toMatch(/set DATABASE_URL/);
      expect(noKey.code).toBe(78);
      expect(noKey.stderr).toMatch(/TIDINGS_API_KEY/);
      expect(badOption.code).toBe(64);
      expect(badIdle.code).toBe(78);
      expect(badIdle.stderr).toMatch(/TIDINGS_LISTEN_IDLE_MS/);
    },
    SLOW,
  );

  it(
    'operator commands create a tenant and keys the API accepts, and refuse bad input',
    async () => {
      const db = { DATABASE_URL: h.env.DATABASE_URL };
      const created = await runCli(['create-tenant', 'acme'], db);
      expect(created.code).toBe(0);
      const { tenantId, apiKey } = JSON.parse(created.stdout) as { tenantId: string; apiKey: string };
      expect((await api.call('POST', '/stream-tokens', apiKey, {})).status).toBe(201);

      const [read, badScope, missing, dev] = await Promise.all([
        runCli(['create-key', tenantId, '--name', 'reader', '--scopes', 'read'], db),
        runCli(['create-key', tenantId, '--scopes', 'root'], db),
        runCli(['create-key', 'ten_missing'], db),
        runCli(['bootstrap-dev'], db),
      ]);
      const devKey = (JSON.parse(dev.stdout) as { apiKey: string }).apiKey;
      expect((await api.call('POST', '/stream-tokens', devKey, {})).status).toBe(201);
      expect(read.code).toBe(0);
      const readKey = (JSON.parse(read.stdout) as { apiKey: string }).apiKey;
      expect((await api.call('GET', '/events', readKey)).status).toBe(200);
      expect((await api.call('POST', '/stream-tokens', readKey, {})).status).toBe(201);
      expect((await api.call('POST', '/webhooks', readKey, { url: 'https://example.com/x' })).status).toBe(
        403,
      );
      expect(badScope.code).toBe(64);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/no tenant ten_missing/);
    },
    SLOW,
  );

  it(
    'listen forwards each event signed with the secret it prints, resumes across a gateway restart, and resend replays one',
    async () => {
      const listen = startCli(['listen', '--forward-to', receiver.url('/hook'), '--types', 'order.*'], env);
      running.push(listen);
      const ready = await eventually(() => {
        expect(listen.stdout()).toMatch(/Ready: streaming/);
        return listen.stdout();
      }, START);
      const secret = /Signing secret: (whsec_\S+)/.exec(ready)![1];
      receiver.expectSecrets('/hook', secret);

      const first = await runCli(['trigger', 'order.created'], env);
      expect(first.code).toBe(0);
      const firstOrder = /created (ord_\S+)/.exec(first.stdout)![1];
      await eventually(() => expect(receiver.delivered('/hook')).toHaveLength(1), START);
      expect(receiver.delivered('/hook')[0].payload).toMatchObject({
        eventType: 'order.created',
        resourceId: firstOrder,
      });
      await eventually(
        () => expect(listen.stdout()).toMatch(/order\.created +\S+ +position \d+ +→ 200 in \d+ ms/),
        START,
      );

      // A gateway restart while events are committed: the listener resumes after the last id it saw.
      await h.stopGateway(gw.app);
      const [second, message] = await Promise.all([
        placeOrder(),
        runCli(['trigger', 'message.received'], env), // not order.*: not forwarded
      ]);
      expect(message.code).toBe(0);
      gw = await h.startGateway({ SSE_PORT: String(ssePort) });
      const orders = [firstOrder, second, await placeOrder()];
      await eventually(() => expect(receiver.delivered('/hook')).toHaveLength(3), START);
      expect(listen.stdout()).toMatch(/Reconnected, resuming after position \d+/);
      const logged = await h.logged(`tenant_id = $1 AND event_type = 'order.created'`, [tenant.tenantId]);
      const delivered = receiver
        .delivered('/hook')
        .map((r) => r.payload as { resourceId: string; position: number });
      expect(delivered.map((p) => p.resourceId)).toEqual(orders);
      expect(delivered.map((p) => p.position)).toEqual(logged.map((e) => e.position));
      expect(receiver.all('/hook').every((r) => r.verified)).toBe(true);

      const eventId = String(receiver.delivered('/hook')[0].headers['webhook-id']);
      receiver.always('/down', { status: 503 });
      receiver.expectSecrets('/down', secret);
      const [resent, refused] = await Promise.all([
        runCli(['resend', eventId, '--forward-to', receiver.url('/hook'), '--secret', secret], env),
        runCli(['resend', eventId, '--forward-to', receiver.url('/down'), '--secret', secret], env),
      ]);
      expect(resent.code).toBe(0);
      expect(resent.stdout).toMatch(/→ 200 in \d+ ms {2}\(resent\)/);
      const again = receiver.all('/hook').at(-1)!;
      expect(again.verified).toBe(true);
      expect(again.headers['webhook-id']).toBe(eventId);

      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/→ 503 in/);

      expect((await listen.stop('SIGINT')).code).toBe(0);
    },
    SLOW,
  );

  it(
    'listen drops a stream that went silent (a laptop waking up) and resumes it without missing an event',
    async () => {
      const quick = await h.startGateway({ SSE_HEARTBEAT_MS: '200' });
      const proxy = await stallingProxy(Number(new URL(quick.url).port));
      const secret = generateSecret();
      receiver.expectSecrets('/sleep', secret);
      const listen = startCli(
        ['listen', '--forward-to', receiver.url('/sleep'), '--types', 'order.*', '--secret', secret],
        // Three missed 200 ms heartbeats and a margin, standing in for 3 × 15 s.
        { ...env, TIDINGS_SSE_URL: proxy.url, TIDINGS_LISTEN_IDLE_MS: '1500' },
      );
      running.push(listen);
      try {
        await eventually(() => expect(listen.stdout()).toMatch(/Ready: streaming/), START);
        const orders = [await placeOrder()];
        await eventually(() => expect(receiver.delivered('/sleep')).toHaveLength(1), START);

        proxy.stall();
        orders.push(await placeOrder(), await placeOrder());
        await eventually(() => expect(receiver.delivered('/sleep')).toHaveLength(3), START);
        expect(listen.stdout()).toMatch(/Reconnected, resuming after position \d+/);
        const delivered = receiver.delivered('/sleep').map((r) => r.payload as { resourceId: string });
        expect(delivered.map((p) => p.resourceId)).toEqual(orders);
        expect(receiver.all('/sleep')).toHaveLength(3); // and nothing twice
        expect((await listen.stop('SIGINT')).code).toBe(0);
      } finally {
        await proxy.close();
        await h.stopGateway(quick.app);
      }
    },
    SLOW,
  );
});
