import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { eventually } from './support/eventually';
import { SseClient } from './support/sse-client';
import { sseHarness, type SseHarness, type TestTenant } from './support/sse-harness';

/** Opens a stream from a given loopback address (127.0.0.x) and returns the response once headers arrive. */
function openFrom(url: string, token: string, localAddress: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/events/stream?types=webhook.test`, {
      localAddress,
      headers: { Authorization: `Bearer ${token}` },
    });
    req.on('response', resolve).on('error', reject).end();
  });
}

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('SSE gateway: limits', () => {
  let h: SseHarness;
  let a: TestTenant;
  const cleanup: (() => void)[] = [];

  beforeAll(async () => {
    h = await sseHarness();
    a = await h.createTenant();
  });

  afterAll(async () => {
    for (const c of cleanup) c();
    await h?.teardown();
  });

  it('disconnects a reader that stops reading once its buffer passes the cap, without affecting others', async () => {
    const gw = await h.startGateway({ SSE_MAX_BUFFER_BYTES: String(1024 * 1024) });
    const port = new URL(gw.url).port;
    const normal = await SseClient.connect(`${gw.url}/events/stream?types=message.received`, {
      token: a.apiKey,
    });
    cleanup.push(() => normal.close());
    // A raw socket that sends its request and then never reads a byte.
    const stalled: Socket = connect(Number(port), '127.0.0.1');
    cleanup.push(() => stalled.destroy());
    stalled.pause();
    stalled.write(
      `GET /events/stream?types=message.received HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${a.apiKey}\r\n\r\n`,
    );
    await eventually(async () => expect(await metric(gw.url, 'tidings_sse_connections')).toBe(2));

    // ~12 MB of frames: more than the kernel's socket buffers plus the 1 MiB cap.
    const body = 'x'.repeat(60_000);
    const total = 200;
    for (let i = 0; i < total; i++) {
      await h.append(a.tenantId, 'message.received', `msg_slow${i}`, {
        messageId: `msg_slow${i}`,
        from: 'customer@example.com',
        channel: 'email',
        body,
        metadata: {},
      });
      // The normal client keeps up (it lives in this busy test process too): only the stalled one falls behind.
      await eventually(() => expect(normal.events).toHaveLength(i + 1));
    }
    await eventually(async () =>
      expect(await metric(gw.url, 'tidings_sse_disconnects_total', 'reason="slow_consumer"')).toBe(1),
    );
    await eventually(() => expect(normal.events).toHaveLength(total), { timeoutMs: 30_000 });
    expect(normal.events.map((e) => e.sequence)).toEqual(Array.from({ length: total }, () => 1));
    expect(normal.readyState).toBe(1);
    expect(normal.openCount).toBe(1);
    expect(await metric(gw.url, 'tidings_sse_connections')).toBe(1);
  });

  it('caps connections per address and per tenant with 429, and frees a slot when a stream closes', async () => {
    const gw = await h.startGateway({ SSE_MAX_CONNECTIONS_PER_IP: '2', SSE_MAX_CONNECTIONS_PER_TENANT: '3' });
    const open: IncomingMessage[] = [];
    const keep = (r: IncomingMessage) => {
      open.push(r);
      cleanup.push(() => r.destroy());
      return r.statusCode;
    };
    expect(keep(await openFrom(gw.url, a.apiKey, '127.0.0.1'))).toBe(200);
    expect(keep(await openFrom(gw.url, a.apiKey, '127.0.0.1'))).toBe(200);
    const perIp = await openFrom(gw.url, a.apiKey, '127.0.0.1');
    expect(perIp.statusCode).toBe(429);
    expect(perIp.headers['content-type']).toMatch(/^application\/problem\+json/);
    perIp.resume();
    expect(keep(await openFrom(gw.url, a.apiKey, '127.0.0.2'))).toBe(200);
    const perTenant = await openFrom(gw.url, a.apiKey, '127.0.0.3');
    expect(perTenant.statusCode).toBe(429);
    perTenant.resume();
    const other = await h.createTenant();
    expect(keep(await openFrom(gw.url, other.apiKey, '127.0.0.3'))).toBe(200);

    open[0].destroy();
    await eventually(async () =>
      expect((await openFrom(gw.url, a.apiKey, '127.0.0.4')).statusCode).toBe(200),
    );
  });
});
