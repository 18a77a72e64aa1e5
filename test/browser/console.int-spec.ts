import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { TestApi } from '../support/api-app';
import { listEventTypes } from '@tidings/events';
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

/** A link of the console's main navigation. */
const menu = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });

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

  it('sends a test event, rotates the secret and edits the subscription', async () => {
    const tests = () => ctx.receiver.delivered('/ok').filter((r) => r.payload?.eventType === 'webhook.test');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await eventually(() => expect(tests()).toHaveLength(1), { timeoutMs: 20_000 });

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = (await page.getByLabel('New signing secret').textContent())!;
    expect(rotated).toMatch(/^whsec_/);
    // From now on the receiver accepts only the new secret: the next delivery must be signed with it.
    ctx.receiver.expectSecrets('/ok', rotated);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await eventually(() => expect(tests()).toHaveLength(2), { timeoutMs: 20_000 });

    await page.locator('summary', { hasText: 'Edit subscription' }).click();
    await page.getByLabel('Description').fill('Fulfilment EU');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fulfilment EU' }).waitFor();
    const res = await ctx.api.call('GET', `/webhooks/${subscriptionId}`, ctx.tenant.apiKey);
    expect(res.body).toMatchObject({ description: 'Fulfilment EU', eventTypes: ['order.*'] });
    await shot('03b-subscription-edited');
    expect(problems()).toEqual([]);
  });

  it('dead-letters a delivery to an endpoint that always fails, then replays it after showing the dry-run count', async () => {
    ctx.receiver.always('/down', { status: 503, body: 'maintenance' });
    await menu(page, 'Subscriptions').click();
    await page.getByLabel('Endpoint URL').fill(ctx.receiver.url('/down'));
    await page.getByLabel('Event types').fill('order.created');
    await page.getByLabel('Description').fill('Warehouse');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const secret = (await page.getByLabel('Signing secret').textContent())!;
    ctx.receiver.expectSecrets('/down', secret);

    const orderId = await createOrder(ctx.api, ctx.tenant, 'cus_console_2');
    // Six attempts at the compressed default schedule, then a dead letter; health shows the streak.
    const row = page.getByRole('row', { name: /Warehouse/ });
    await eventually(async () => expect(await row.getByRole('cell').nth(3).textContent()).toBe('1'), {
      timeoutMs: 30_000,
    });
    expect(await row.textContent()).toContain('Failing');
    expect(ctx.receiver.all('/down')).toHaveLength(6);
    await shot('04-failing-subscription');

    await menu(page, 'Dead letters').click();
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    const dead = page.getByRole('row', { name: new RegExp(`order\\.created Warehouse ${orderId}`) });
    await dead.waitFor();
    await page.getByLabel('Subscription', { exact: true }).selectOption({ label: 'Warehouse' });
    await page.getByLabel('Event type').fill('order.*');
    // A time range that holds nothing counts nothing.
    await page.getByLabel('Died since').fill('2099-01-01T00:00:00');
    await page.getByRole('button', { name: 'Count matching' }).click();
    await eventually(async () =>
      expect(await page.getByRole('status').first().textContent()).toBe(
        '0 dead letters match (dry run: nothing replayed yet)',
      ),
    );
    await page.getByLabel('Died since').fill('');
    await page.getByLabel('Died before').fill('2099-01-01T00:00:00');
    await page.getByRole('button', { name: 'Count matching' }).click();
    await eventually(async () =>
      expect(await page.getByRole('status').first().textContent()).toBe(
        '1 dead letters match (dry run: nothing replayed yet)',
      ),
    );
    // The dry run changed nothing.
    expect(ctx.receiver.all('/down')).toHaveLength(6);
    await shot('05-dead-letter-dry-run');

    ctx.receiver.always('/down', { status: 200 });
    await page.getByRole('button', { name: 'Replay 1 dead letters' }).click();
    await eventually(() => expect(ctx.receiver.delivered('/down')).toHaveLength(1), { timeoutMs: 20_000 });
    const [replayed] = ctx.receiver.delivered('/down');
    expect(replayed.headers['webhook-id']).toBe(ctx.receiver.all('/down')[0].headers['webhook-id']);
    await eventually(async () =>
      expect(await page.getByText('1 dead letters replayed').isVisible()).toBe(true),
    );
    await eventually(async () => expect(await dead.count()).toBe(0));
    await shot('06-dead-letter-replayed');
    expect(problems()).toEqual([]);
  });

  it('disables a subscription and re-enables it, replaying what it missed after showing the dry-run count', async () => {
    await menu(page, 'Subscriptions').click();
    await page.getByRole('link', { name: 'Warehouse' }).click();
    await page.getByRole('heading', { level: 1, name: 'Warehouse' }).waitFor();
    const warehouseId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable…' }).waitFor();
    const missed = await createOrder(ctx.api, ctx.tenant, 'cus_console_5');
    // Committed while disabled: the dispatcher has seen it once the event is in the audit log's delivery view.
    const expected = await eventually(async () => {
      const res = await ctx.api.call('POST', `/webhooks/${warehouseId}/enable`, ctx.tenant.apiKey, {
        dryRun: true,
      });
      expect(res.body.replayCount).toBeGreaterThanOrEqual(1);
      return res.body.replayCount as number;
    });
    await page.getByRole('button', { name: 'Enable…' }).click();
    await eventually(async () =>
      expect(await page.getByText(/deliveries would be replayed/).textContent()).toMatch(
        new RegExp(`^${expected} deliveries would be replayed`),
      ),
    );
    await shot('07-enable-dry-run');
    await page.getByRole('button', { name: `Enable and replay ${expected}` }).click();
    await eventually(
      () =>
        expect(
          ctx.receiver.delivered('/down').map((r) => (r.payload as { resourceId: string }).resourceId),
        ).toContain(missed),
      { timeoutMs: 20_000 },
    );
    await eventually(async () => expect(await page.getByText('Healthy').count()).toBeGreaterThan(0));
    expect(problems()).toEqual([]);
  });

  it('streams events live with a type filter and resumes after the last one seen', async () => {
    await menu(page, 'Live stream').click();
    await page.getByLabel('Event types').fill('order.*');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await eventually(async () =>
      expect(await page.getByRole('status').first().textContent()).toBe('Stream open'),
    );
    const log = page.getByRole('log', { name: 'Streamed events' });
    const first = await createOrder(ctx.api, ctx.tenant, 'cus_console_3');
    await eventually(async () => expect(await log.textContent()).toContain(first));

    // Missed while disconnected: a webhook.test (outside the filter) and an order (inside it).
    await page.getByRole('button', { name: 'Disconnect', exact: true }).click();
    const test = await ctx.api.call('POST', `/webhooks/${subscriptionId}/test`, ctx.tenant.apiKey, {});
    expect(test.status).toBe(202);
    const missed = await createOrder(ctx.api, ctx.tenant, 'cus_console_4');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await eventually(async () => expect(await log.textContent()).toContain(missed));
    expect(await page.getByText(/^Resuming after position \d+$/).isVisible()).toBe(true);
    const types = await log.locator('summary strong').allTextContents();
    // Newest first; each event once; nothing outside order.*.
    expect(types.every((t) => t.startsWith('order.'))).toBe(true);
    const positions = (await log
      .locator('li')
      .evaluateAll((els) =>
        els.map((el) => Number((el as unknown as { dataset: { position: string } }).dataset.position)),
      )) as number[];
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    expect(new Set(positions).size).toBe(positions.length);
    await shot('08-live-stream');
    expect(problems()).toEqual([]);
  });

  it('shows every version of every event type with its JSON Schema and example', async () => {
    await menu(page, 'Event catalogue').click();
    for (const info of listEventTypes()) {
      for (const v of info.versions) {
        const schema = page.getByLabel(`JSON Schema of ${info.type} v${v.version}`, { exact: true });
        const example = page.getByLabel(`Example of ${info.type} v${v.version}`, { exact: true });
        expect(JSON.parse((await schema.textContent())!)).toEqual(JSON.parse(JSON.stringify(v.jsonSchema)));
        expect(JSON.parse((await example.textContent())!)).toEqual(JSON.parse(JSON.stringify(v.example)));
      }
    }
    await shot('09-catalogue');
  });
});
