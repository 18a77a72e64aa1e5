import type { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApi, type TestApi } from './support/api-app';
import { eventually } from './support/eventually';
import { SseClient } from './support/sse-client';
import { sseHarness, type SseHarness } from './support/sse-harness';

/** The `revoked` frame exactly as docs/sse.md shows it: the first code block of its "Revoked" section. */
function documentedFrame(): string {
  const doc = readFileSync(join(__dirname, '../docs/sse.md'), 'utf8');
  const block = /```\n([\s\S]*?)\n```/.exec(doc.slice(doc.indexOf('### Revoked')));
  if (!block) throw new Error('docs/sse.md has no frame in its "Revoked" section');
  return block[1];
}

/**
 * An open stream lives no longer than its credential, on the real api, relay, Kafka and Postgres.
 * Two gateways: on one the heartbeat (and so the periodic credential check) is 5 minutes, longer than any wait
 * here, so only the `api_key.revoked` event can end its streams; on the other it is compressed to 200 ms
 * through config, and credentials die without any event (a revocation written straight to the database, a
 * token's expiry), so only the periodic check can end them.
 */
describe('SSE streams end when their credential dies', () => {
  let h: SseHarness;
  let api: TestApi;
  let eventGw: { app: INestApplication; url: string };
  let tickGw: { app: INestApplication; url: string };
  const clients: SseClient[] = [];

  const open = async (gw: { url: string }, query: string, token?: string) => {
    const c = await SseClient.connect(`${gw.url}/events/stream${query}`, { token });
    clients.push(c);
    return c;
  };

  /** After the stream ended, the client's own reconnect was refused with 401 and it gave up. */
  const expectRefusedReconnect = async (c: SseClient) => {
    await eventually(() => expect(c.errors.map((e) => e.code)).toContain(401));
    expect(c.readyState).toBe(2);
    expect(c.openCount).toBe(1);
  };

  const expectProblem401 = async (url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(((await res.json()) as { status: number }).status).toBe(401);
  };

  beforeAll(async () => {
    h = await sseHarness();
    api = await startApi(h.env.DATABASE_URL);
    eventGw = await h.startGateway({ SSE_HEARTBEAT_MS: '300000' });
    tickGw = await h.startGateway({ SSE_HEARTBEAT_MS: '200' });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await api?.app.close();
    await h?.teardown();
  });

  it('ends the streams of a key revoked through the api at once, when the gateway sees api_key.revoked', async () => {
    const admin = await h.createTenant(['admin']);
    const issued = await api.call('POST', '/api-keys', admin.apiKey, { name: 'dashboard', scopes: ['read'] });
    expect(issued.status).toBe(201);
    const key = issued.body.key as string;
    const keyId = issued.body.id as string;
    const minted = await api.call('POST', '/stream-tokens', key, { eventTypes: ['order.*'] });
    expect(minted.status).toBe(201);
    const token = minted.body.token as string;

    const byKey = await open(eventGw, '?types=api_key.*', key);
    const byToken = await open(eventGw, `?access_token=${token}`);
    const bystander = await open(eventGw, '?types=api_key.*', admin.apiKey);

    expect((await api.call('DELETE', `/api-keys/${keyId}`, admin.apiKey)).status).toBe(200);

    await eventually(() => expect(byKey.revocations).toEqual([{ reason: 'key_revoked' }]));
    await eventually(() => expect(byToken.revocations).toEqual([{ reason: 'key_revoked' }]));
    // The documented frame, byte for byte; it is the last frame of the stream.
    expect(byKey.raw).toContain(`${documentedFrame()}\n\n`);
    // A stream of api_key.* sees its own key's revocation before it ends.
    expect(byKey.frames.slice(-2).map((f) => [f.event, f.event === 'revoked' ? null : f.data])).toEqual([
      ['api_key.revoked', expect.stringContaining(keyId)],
      ['revoked', null],
    ]);
    await expectRefusedReconnect(byKey);
    await expectRefusedReconnect(byToken);
    await expectProblem401(`${eventGw.url}/events/stream`, { Authorization: `Bearer ${key}` });
    await expectProblem401(`${eventGw.url}/events/stream?access_token=${token}`);

    // Another key's stream of the same tenant is untouched (and saw the event too).
    await eventually(() =>
      expect(bystander.events.map((e) => [e.eventType, e.resourceId])).toContainEqual([
        'api_key.revoked',
        keyId,
      ]),
    );
    expect(bystander.revocations).toEqual([]);
    expect(bystander.readyState).toBe(1);
  });

  it('ends the streams of a key revoked without any event at the next heartbeat', async () => {
    const t = await h.createTenant();
    const token = await h.createStreamToken(t);
    const byKey = await open(tickGw, '', t.apiKey);
    const byToken = await open(tickGw, `?access_token=${token}`);
    // Several checks run while the key is valid: they leave the streams open.
    await eventually(() => expect(byKey.raw.split(':keepalive').length).toBeGreaterThan(4));
    expect(byKey.revocations).toEqual([]);
    expect(byKey.readyState).toBe(1);

    // Straight to the database: no api_key.revoked event is ever emitted, only the periodic check can see it.
    await h.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [t.apiKeyId]);

    await eventually(() => expect(byKey.revocations).toEqual([{ reason: 'key_revoked' }]));
    await eventually(() => expect(byToken.revocations).toEqual([{ reason: 'key_revoked' }]));
    expect(byKey.raw).toContain(`${documentedFrame()}\n\n`);
    await expectRefusedReconnect(byKey);
    await expectRefusedReconnect(byToken);
  });

  it('ends a stream token at its expiry with token_expired', async () => {
    const t = await h.createTenant();
    const token = await h.createStreamToken(t, { expiresInMs: 3_000 });
    const c = await open(tickGw, `?access_token=${token}`);
    await eventually(() => expect(c.revocations).toEqual([{ reason: 'token_expired' }]));
    expect(c.raw).toContain(`${documentedFrame().replace('key_revoked', 'token_expired')}\n\n`);
    await expectRefusedReconnect(c);
    await expectProblem401(`${tickGw.url}/events/stream?access_token=${token}`);
    // The key itself is still valid: its own streams are not affected by its token's expiry.
    const byKey = await open(tickGw, '', t.apiKey);
    await eventually(() => expect(byKey.raw.split(':keepalive').length).toBeGreaterThan(3));
    expect(byKey.revocations).toEqual([]);

    const metrics = await (await fetch(`${tickGw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tidings_sse_disconnects_total\{reason="revoked"[^}]*\} [1-9]/m);
  });
});
