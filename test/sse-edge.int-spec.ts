import { request, type IncomingMessage } from 'node:http';
import { sseHarness, type SseHarness, type TestTenant } from './support/sse-harness';

/** Opens a stream from a loopback address (127.0.0.x) with these headers; resolves once headers arrive. */
function open(url: string, localAddress: string, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/events/stream?types=webhook.test`, { localAddress, headers });
    req.on('response', resolve).on('error', reject).end();
  });
}

async function body(res: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('SSE gateway: the HTTP edge', () => {
  let h: SseHarness;
  let a: TestTenant;
  const streams: IncomingMessage[] = [];
  const keep = (res: IncomingMessage) => {
    streams.push(res);
    return res.statusCode;
  };

  beforeAll(async () => {
    h = await sseHarness({ relay: false });
    a = await h.createTenant();
  });

  afterEach(() => {
    for (const s of streams.splice(0)) s.destroy();
  });

  afterAll(async () => {
    await h?.teardown();
  });

  it('answers headers over 16 KiB with a 431 problem, on the stream and on every other route', async () => {
    const gw = await h.startGateway();
    for (const path of ['/events/stream', '/health/live']) {
      const res = await fetch(`${gw.url}${path}`, {
        headers: { authorization: `Bearer ${a.apiKey}`, 'x-padding': 'x'.repeat(17 * 1024) },
      });
      expect(res.status).toBe(431);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ status: 431, title: 'Request Header Fields Too Large' });
    }
  });

  it('reads the Authorization scheme case-insensitively, like the api', async () => {
    const gw = await h.startGateway();
    for (const scheme of ['bearer', 'BEARER', 'Bearer'])
      expect(keep(await open(gw.url, '127.0.0.1', { authorization: `${scheme} ${a.apiKey}` }))).toBe(200);
    const basic = await open(gw.url, '127.0.0.1', { authorization: `Basic ${a.apiKey}` });
    expect(basic.statusCode).toBe(401);
    expect(basic.headers['content-type']).toMatch(/^application\/problem\+json/);
    basic.resume();
  });

  describe('SSE_TRUSTED_PROXIES and the per-address cap (default 100)', () => {
    const PER_IP = 100;
    const auth = (headers: Record<string, string>) => ({ authorization: `Bearer ${a.apiKey}`, ...headers });

    it('counts each client behind a trusted proxy by its X-Forwarded-For address', async () => {
      const gw = await h.startGateway({ SSE_TRUSTED_PROXIES: '127.0.0.0/30, ::1' });
      const viaProxy = (client: string) => open(gw.url, '127.0.0.1', auth({ 'x-forwarded-for': client }));
      for (let i = 0; i < PER_IP; i++) expect(keep(await viaProxy('198.51.100.7'))).toBe(200);
      const over = await viaProxy('198.51.100.7');
      expect(over.statusCode).toBe(429);
      expect(await body(over)).toMatchObject({ detail: 'Too many open streams from this address' });
      // Another browser behind the same proxy, and one behind a chain of trusted proxies, have their own slots.
      expect(keep(await viaProxy('198.51.100.8'))).toBe(200);
      expect(keep(await viaProxy('198.51.100.9, 127.0.0.2'))).toBe(200);
      // A client's own claim left of the address the proxy saw is not believed: this is 203.0.113.5.
      expect(keep(await viaProxy('198.51.100.7, 203.0.113.5'))).toBe(200);
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const gw = await h.startGateway({ SSE_TRUSTED_PROXIES: '127.0.0.1' });
      for (let i = 0; i < PER_IP; i++)
        expect(keep(await open(gw.url, '127.0.0.5', auth({ 'x-forwarded-for': `198.51.100.${i}` })))).toBe(
          200,
        );
      const over = await open(gw.url, '127.0.0.5', auth({ 'x-forwarded-for': '198.51.100.200' }));
      expect(over.statusCode).toBe(429);
      over.resume();
    });

    it('ignores X-Forwarded-For by default', async () => {
      const gw = await h.startGateway();
      for (let i = 0; i < PER_IP; i++)
        expect(keep(await open(gw.url, '127.0.0.6', auth({ 'x-forwarded-for': `198.51.100.${i}` })))).toBe(
          200,
        );
      const over = await open(gw.url, '127.0.0.6', auth({ 'x-forwarded-for': '198.51.100.200' }));
      expect(over.statusCode).toBe(429);
      over.resume();
    });
  });
});
