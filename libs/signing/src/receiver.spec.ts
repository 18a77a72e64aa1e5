import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  webhookReceiver,
  type VerifiedWebhook,
  type WebhookReceiverOptions,
  type WebhookRequest,
} from './receiver';
import { generateSecret } from './secret';
import { signPayload } from './signature';

type BodyStep = 'stream' | 'rawBody' | 'bufferBody' | 'parsedJson';

// Simulates what the frameworks do before our middleware runs: nothing (plain Node/Express without a
// parser), Nest's `rawBody: true`, `express.raw()`, or `express.json()` (which loses the raw bytes).
async function prepare(req: WebhookRequest, step: BodyStep): Promise<void> {
  if (step === 'stream') return;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (step === 'rawBody') Object.assign(req, { rawBody: raw, body: JSON.parse(raw.toString()) as unknown });
  if (step === 'bufferBody') req.body = raw;
  if (step === 'parsedJson') req.body = JSON.parse(raw.toString()) as unknown;
}

async function setup(opts: Partial<WebhookReceiverOptions> & { step?: BodyStep } = {}) {
  const secret = generateSecret();
  const received: VerifiedWebhook[] = [];
  const errors: unknown[] = [];
  const verify = webhookReceiver({ secrets: [secret], ...opts });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const r = req as WebhookRequest;
    prepare(r, opts.step ?? 'stream').then(
      () =>
        verify(r, res, (err?: unknown) => {
          if (err) {
            errors.push(err);
            res.statusCode = 500;
            res.end();
            return;
          }
          received.push(r.webhook!);
          res.statusCode = 204;
          res.end();
        }),
      () => res.end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const signed = (body: string, secrets = [secret], timestamp = Math.floor(Date.now() / 1000)) =>
    post(body, signPayload({ id: 'evt_1', timestamp, body, secrets }));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { secret, url, received, errors, post, signed, close };
}

const BODY = '{"eventType":"order.created",  "data":{"note":"héllo"}}';

describe('webhookReceiver middleware', () => {
  it.each(['stream', 'rawBody', 'bufferBody'] as const)(
    'verifies the raw body (%s) and exposes id, timestamp, payload and raw bytes',
    async (step) => {
      const { signed, received, close } = await setup({ step });
      const res = await signed(BODY);
      await close();
      expect(res.status).toBe(204);
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({
        id: 'evt_1',
        payload: { eventType: 'order.created', data: { note: 'héllo' } },
      });
      expect(received[0].timestamp).toBeGreaterThan(0);
      expect(received[0].rawBody.toString('utf8')).toBe(BODY);
    },
  );

  it('accepts a request signed with both secrets during a rotation, whichever one the receiver holds', async () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const holdsOld = await setup({ secrets: [oldSecret] });
    const holdsNew = await setup({ secrets: [newSecret] });
    const statuses = [
      (await holdsOld.signed(BODY, [newSecret, oldSecret])).status,
      (await holdsNew.signed(BODY, [newSecret, oldSecret])).status,
    ];
    await Promise.all([holdsOld.close(), holdsNew.close()]);
    expect(statuses).toEqual([204, 204]);
    expect([holdsOld.received.length, holdsNew.received.length]).toEqual([1, 1]);
  });

  it.each([
    ['invalid_signature', (s: Awaited<ReturnType<typeof setup>>) => s.signed(BODY, [generateSecret()])],
    ['missing_header', (s: Awaited<ReturnType<typeof setup>>) => s.post(BODY)],
    ['timestamp_too_old', (s: Awaited<ReturnType<typeof setup>>) => s.signed(BODY, undefined, 1_000_000_000)],
    ['malformed_body', (s: Awaited<ReturnType<typeof setup>>) => s.signed('not json')],
  ])('answers 400 problem+json (%s) and never calls the handler', async (kind, send) => {
    const ctx = await setup();
    const res = await send(ctx);
    await ctx.close();
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 400, detail: kind, kind });
    expect(ctx.received).toHaveLength(0);
  });

  it('answers 413 to bodies over the limit without calling the handler', async () => {
    const ctx = await setup({ maxBodyBytes: 64 });
    const big = JSON.stringify({ data: 'x'.repeat(100) });
    const res = await ctx.signed(big);
    const chunked = await fetch(ctx.url, {
      method: 'POST',
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    await ctx.close();
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ status: 413, kind: 'body_too_large' });
    expect(chunked.status).toBe(413);
    expect(ctx.received).toHaveLength(0);
  });

  it('passes a setup error to next() when a JSON parser already consumed the raw body', async () => {
    const ctx = await setup({ step: 'parsedJson' });
    const res = await ctx.signed(BODY);
    await ctx.close();
    expect(res.status).toBe(500);
    expect(String(ctx.errors[0])).toContain('express.raw');
    expect(ctx.received).toHaveLength(0);
  });

  it('refuses to be built without a secret', () => {
    expect(() => webhookReceiver({ secrets: [] })).toThrow('at least one secret');
  });
});
