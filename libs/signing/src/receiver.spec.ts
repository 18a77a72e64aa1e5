import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookReceiver, type VerifiedWebhook } from './receiver';
import { generateSecret } from './secret';
import { signPayload } from './signature';

async function setup() {
  const secret = generateSecret();
  const received: VerifiedWebhook[] = [];
  const verify = webhookReceiver({ secrets: [secret] });
  const server: Server = createServer((req, res) =>
    verify(req, res, () => {
      received.push((req as typeof req & { webhook: VerifiedWebhook }).webhook);
      res.end('ok');
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { secret, received, url, close: () => new Promise((r) => server.close(r)) };
}

describe('webhookReceiver middleware', () => {
  it('verifies the raw body and exposes the parsed payload', async () => {
    const { secret, received, url, close } = await setup();
    const body = '{"eventType":"order.created",  "data":{}}';
    const headers = signPayload({
      id: 'evt_1',
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: [secret],
    });
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    await close();
    expect(res.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ id: 'evt_1', payload: { eventType: 'order.created', data: {} } });
    expect(received[0].rawBody.toString()).toBe(body);
  });

  it('answers 400 with the failure kind and does not call the handler', async () => {
    const { received, url, close } = await setup();
    const body = '{}';
    const headers = signPayload({
      id: 'evt_2',
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: [generateSecret()],
    });
    const res = await fetch(url, { method: 'POST', body, headers: { ...headers } });
    const missing = await fetch(url, { method: 'POST', body });
    await close();
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 400, detail: 'invalid_signature' });
    expect((await missing.json()) as object).toMatchObject({ detail: 'missing_header' });
    expect(received).toHaveLength(0);
  });
});
