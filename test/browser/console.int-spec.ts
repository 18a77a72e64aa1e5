import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { TestApi } from '../support/api-app';
import { launchChromium } from '../support/chromium';
import { eventually } from '../support/eventually';
import { startPipeline } from '../support/pipeline';
import { createTenant, type TestTenant } from '../support/tenant';

// Screenshots of each step, for a person to look at (CI keeps the folder; it is gitignored).
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'console');
// The default schedule (1m, 5m, 30m, 2h, 24h) compressed to about 2 s: a dead letter within the test.
const RETRY_TIME_SCALE = '2e-5';

/**
 * The web console end to end in headless Chromium: the real api (serving the console), outbox relay,
 * webhook dispatcher and SSE gateway in-process on the shared Postgres and Kafka, delivering to a local
 * receiver that verifies every signature. The browser only talks to the api and the gateway, as a user's would.
 */
async function setup() {
  const pipeline = await startPipeline();
  const gateway = await pipeline.startGateway({ SSE_RETRY_MS: '200' });
  await pipeline.startRelay();
  await pipeline.startDispatcher({
    WEBHOOK_RETRY_TIME_SCALE: RETRY_TIME_SCALE,
    WEBHOOK_POLL_MAX_MS: '50',
    // A subscription created in the console sees the very next event.
    WEBHOOK_SUBSCRIPTION_CACHE_MS: '0',
  });
  const api = await pipeline.startApi({ CONSOLE_STREAM_URL: gateway.url });
  const tenant = await createTenant(pipeline.ds, { name: 'console' });
  const browser = await launchChromium();
  return {
    api,
    tenant,
    receiver: pipeline.receiver,
    browser,
    gatewayUrl: gateway.url,
    teardown: async () => {
      await browser.close();
      await pipeline.teardown();
    },
  };
}

/** Presses Tab until `target` has the focus: the control is reachable by keyboard, in tab order. */
async function tabTo(page: Page, target: Locator, maxPresses = 60): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el: { matches(selector: string): boolean }) => el.matches(':focus'))) return;
  }
  throw new Error(`${String(target)} was not reached with ${maxPresses} presses of Tab`);
}

async function createOrder(api: TestApi, t: TestTenant, customerId: string): Promise<string> {
  const res = await api.call('POST', '/orders', t.apiKey, {
    customerId,
    currency: 'EUR',
    items: [{ sku: 'sku_1', quantity: 1, unitPriceMinor: 1250 }],
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('web console (api + relay + dispatcher + gateway, headless Chromium)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let page: Page;
  let browser: Browser;
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ctx = await setup();
    browser = ctx.browser;
    page = await browser.newPage();
    // Any CSP violation or script error fails the journey: the page must work under its own policy.
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    (page as unknown as { problems: string[] }).problems = problems;
  });

  afterAll(async () => {
    await ctx?.teardown();
  });

  const problems = () =>
    (page as unknown as { problems: string[] }).problems.filter(
      // A refused key is answered 401 on purpose (sign-in test); the browser logs the failed fetch.
      (p) => !p.includes('401'),
    );

  it('is served by the api with a Content-Security-Policy that allows only itself and the gateway', async () => {
    const res = await fetch(`${ctx.api.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(`connect-src 'self' ${new URL(ctx.gatewayUrl).origin}`);
    const config = await fetch(`${ctx.api.url}/console/config.json`);
    expect(await config.json()).toEqual({ streamUrl: ctx.gatewayUrl });
    const missing = await fetch(`${ctx.api.url}/console/assets/secrets.txt`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('signs in with an API key using only the keyboard, refusing an unknown key', async () => {
    await page.goto(`${ctx.api.url}/console/`);
    const keyField = page.getByLabel('API key');
    await tabTo(page, keyField);
    await page.keyboard.type(`tdk_AAAAAAAAAAAA_${'A'.repeat(43)}`);
    await page.keyboard.press('Enter');
    await eventually(async () =>
      expect(await page.getByRole('alert').textContent()).toContain('Unknown or revoked API key'),
    );
    await keyField.fill('');
    await keyField.focus();
    await page.keyboard.type(ctx.tenant.apiKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Subscriptions' }).waitFor();
    expect(
      await page.evaluate(() =>
        (
          globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
        ).sessionStorage.getItem('tidings.console.apiKey'),
      ),
    ).toBe(ctx.tenant.apiKey);
    await shot('01-signed-in');
  });

  let subscriptionId: string;

  it('creates a subscription with the keyboard and shows a triggered event delivered, live, in its log', async () => {
    await tabTo(page, page.getByLabel('Endpoint URL'));
    await page.keyboard.type(ctx.receiver.url('/ok'));
    await tabTo(page, page.getByLabel('Event types'));
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('order.*');
    await tabTo(page, page.getByLabel('Description'));
    await page.keyboard.type('Fulfilment');
    await page.keyboard.press('Enter');
    const secret = (await page.getByLabel('Signing secret').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    ctx.receiver.expectSecrets('/ok', secret);
    await shot('02-subscription-created');

    // Health columns come from GET /webhooks.
    const row = page.getByRole('row', { name: /Fulfilment/ });
    await eventually(async () => expect(await row.textContent()).toContain('Healthy'));
    await tabTo(page, row.getByRole('link', { name: 'Fulfilment' }));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Fulfilment' }).waitFor();
    subscriptionId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    expect(subscriptionId).toMatch(/^whk_/);

    // The page is open before the event exists: the delivery appears without a reload.
    const orderId = await createOrder(ctx.api, ctx.tenant, 'cus_console_1');
    const delivery = page.getByRole('row', { name: new RegExp(`order\\.created ${orderId}`) });
    await eventually(async () => expect(await delivery.textContent()).toContain('succeeded'), {
      timeoutMs: 20_000,
    });
    expect(ctx.receiver.delivered('/ok')).toHaveLength(1);

    // Attempt detail: status, duration, response excerpt.
    await delivery.getByRole('button', { name: /^Attempts/ }).click();
    const attempts = page.getByRole('table', { name: /Attempts of order\.created/ });
    await eventually(async () => {
      const cells = await attempts.getByRole('row').nth(1).getByRole('cell').allTextContents();
      expect(cells.slice(0, 1)).toEqual(['1']);
      expect(cells[2]).toBe('200');
      expect(cells[3]).toMatch(/^\d+ ms$/);
      expect(cells[4]).toBe('ok');
    });
    await shot('03-delivery-log');

    // Redeliver: a second attempt of the same event (same webhook-id) reaches the receiver.
    await delivery.getByRole('button', { name: /^Redeliver/ }).click();
    await eventually(() => expect(ctx.receiver.all('/ok')).toHaveLength(2), { timeoutMs: 20_000 });
    const [first, second] = ctx.receiver.all('/ok');
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    await eventually(async () => expect(await attempts.getByRole('row').count()).toBe(3));
    expect(problems()).toEqual([]);
  });
});
