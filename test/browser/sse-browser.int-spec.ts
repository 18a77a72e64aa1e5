import { createServer, type Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../../scripts/infra/ports';
import { launchChromium } from '../support/chromium';
import { eventually } from '../support/eventually';
import { orderUpdated, sseHarness, type SseHarness, type TestTenant } from '../support/sse-harness';

/** The page a browser app would ship: native EventSource, token in access_token, ids recorded. */
function page(gateway: string, token: string): string {
  return `<!doctype html><html><body><script>
    window.ids = []; window.opens = 0; window.errors = 0;
    const es = new EventSource(${JSON.stringify(`${gateway}/events/stream?types=order.*&access_token=${token}`)});
    es.addEventListener('order.updated', (e) => window.ids.push(Number(e.lastEventId)));
    es.onopen = () => window.opens++;
    es.onerror = () => window.errors++;
  </script></body></html>`;
}

describe('SSE gateway in a real browser', () => {
  let h: SseHarness;
  let t: TestTenant;
  let browser: Browser;
  let pageServer: Server;
  let gw: { app: INestApplication; url: string };

  beforeAll(async () => {
    h = await sseHarness();
    t = await h.createTenant();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve(undefined)));
    await h?.teardown();
  });

  it('reconnects on its own after the gateway restarts, sends Last-Event-ID and misses nothing', async () => {
    const port = await freePort();
    gw = await h.startGateway({ SSE_PORT: String(port), SSE_RETRY_MS: '300' });
    const token = await h.createStreamToken(t, { eventTypes: ['order.*'] });
    // The page comes from another origin, as a browser app's would.
    const html = page(`http://localhost:${port}`, token);
    pageServer = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(html));
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    const { port: pagePort } = pageServer.address() as { port: number };

    const tab: Page = await browser.newPage();
    // allHeaders(): the headers as sent on the wire (Last-Event-ID is added by the network stack).
    const requests: Promise<Record<string, string>>[] = [];
    tab.on('request', (r) => {
      if (r.url().includes('/events/stream')) requests.push(r.allHeaders());
    });
    await tab.goto(`http://127.0.0.1:${pagePort}/`);
    await eventually(async () =>
      expect(await tab.evaluate(() => (globalThis as unknown as { opens: number }).opens)).toBe(1),
    );

    const ids = () => tab.evaluate(() => (globalThis as unknown as { ids: number[] }).ids);
    const write = async (from: number, n: number) => {
      for (let i = from; i < from + n; i++) {
        await h.append(t.tenantId, 'order.updated', `ord_b${i % 7}`, orderUpdated(`ord_b${i % 7}`, i));
      }
    };
    await write(0, 20);
    await eventually(async () => expect(await ids()).toHaveLength(20));

    // Restart: close the gateway (streams end), commit while it is down, start a new one on the same port.
    await h.stopGateway(gw.app);
    await write(20, 20);
    gw = await h.startGateway({ SSE_PORT: String(port), SSE_RETRY_MS: '300' });
    await write(40, 20);

    await eventually(async () => expect(await ids()).toHaveLength(60), { timeoutMs: 30_000 });
    const expected = (await h.logged('tenant_id = $1', [t.tenantId])).map((e) => e.position);
    expect(await ids()).toEqual(expected);
    expect(
      await tab.evaluate(() => (globalThis as unknown as { opens: number }).opens),
    ).toBeGreaterThanOrEqual(2);
    // The first request carried no Last-Event-ID; every reconnect carried the last id the page had seen.
    const lastEventIds = (await Promise.all(requests)).map((headers) => headers['last-event-id']);
    expect(lastEventIds[0]).toBeUndefined();
    expect(lastEventIds.length).toBeGreaterThanOrEqual(2);
    expect(lastEventIds.at(-1)).toBe(String(expected[19]));
    await tab.close();
  });
});
