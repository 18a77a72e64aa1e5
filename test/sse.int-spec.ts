import { exampleData, getEventType, renderAtVersion, type EventEnvelope } from '@tidings/events';
import type { INestApplication } from '@nestjs/common';
import { platformTopics } from '@tidings/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { eventually } from './support/eventually';
import { kafkaBrokers } from './support/infra';
import { SseClient } from './support/sse-client';
import { orderUpdated, sseHarness, type SseHarness, type TestTenant } from './support/sse-harness';

const orderCreated = (orderId: string) => ({ ...exampleData('order.created'), orderId });
const messageReceived = (messageId: string) => ({ ...exampleData('message.received'), messageId });

describe('SSE gateway: streams, filters, auth', () => {
  let h: SseHarness;
  let gw: { app: INestApplication; url: string };
  let a: TestTenant;
  let b: TestTenant;
  const clients: SseClient[] = [];

  const open = async (query: string, opts: { token?: string; lastEventId?: string } = {}) => {
    const c = await SseClient.connect(`${gw.url}/events/stream${query}`, { token: a.apiKey, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await sseHarness();
    gw = await h.startGateway({ SSE_HEARTBEAT_MS: '100' });
    a = await h.createTenant();
    b = await h.createTenant();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.teardown();
  });

  it('answers with the event-stream headers and a retry hint first', async () => {
    const res = await fetch(`${gw.url}/events/stream`, { headers: { Authorization: `Bearer ${a.apiKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // First on the wire; on a loaded machine the first read can also hold a heartbeat sent 100 ms later.
    expect(first.startsWith('retry: 100\n')).toBe(true);
    await reader.cancel();
  });

  it('ends no block without data: the retry hint and heartbeats ride in the next frame (httpx-sse)', async () => {
    const c = await open('?types=order.created&resourceId=ord_blocks');
    await eventually(() => expect(c.raw.split(':keepalive\n').length).toBeGreaterThan(2));
    await h.append(a.tenantId, 'order.created', 'ord_blocks', orderCreated('ord_blocks'));
    await eventually(() => expect(c.events).toHaveLength(1));
    // What a parser that yields every block (retry or comments alone included) would see: one event.
    const blocks = c.raw.split('\n\n').slice(0, -1);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatch(/^retry: 100\n(:keepalive\n)+id: \d+\nevent: order.created\ndata: \{/);
  });

  it('filters by exact type, wildcard and resource, in position order', async () => {
    const exact = await open('?types=order.created');
    const wildcard = await open('?types=order.*');
    const resource = await open('?resourceId=ord_f1');
    const all = await open('');
    const written = [
      await h.append(a.tenantId, 'order.created', 'ord_f1', orderCreated('ord_f1')),
      await h.append(a.tenantId, 'order.updated', 'ord_f1', orderUpdated('ord_f1', 2)),
      await h.append(a.tenantId, 'message.received', 'msg_f1', messageReceived('msg_f1')),
      await h.append(a.tenantId, 'order.created', 'ord_f2', orderCreated('ord_f2')),
    ];
    const ids = (c: SseClient) => c.events.map((e) => e.eventId);
    await eventually(() => expect(ids(all)).toEqual(written.map((e) => e.eventId)));
    expect(ids(exact)).toEqual([written[0].eventId, written[3].eventId]);
    expect(ids(wildcard)).toEqual([written[0].eventId, written[1].eventId, written[3].eventId]);
    expect(ids(resource)).toEqual([written[0].eventId, written[1].eventId]);
    const positions = all.frames.map((f) => Number(f.id));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(all.events.map((e) => e.position)).toEqual(positions);
    expect(all.frames.map((f) => f.event)).toEqual(written.map((e) => e.eventType));
  });

  it('never sends one tenant the events of another', async () => {
    const ofB = await open('', { token: b.apiKey });
    const ofA = await open('');
    const mine = await h.append(b.tenantId, 'order.created', 'ord_tb', orderCreated('ord_tb'));
    const theirs = await h.append(a.tenantId, 'order.created', 'ord_ta', orderCreated('ord_ta'));
    const marker = await h.append(b.tenantId, 'order.updated', 'ord_tb', orderUpdated('ord_tb', 2));
    await eventually(() => expect(ofB.events.map((e) => e.eventId)).toEqual([mine.eventId, marker.eventId]));
    await eventually(() => expect(ofA.events.map((e) => e.eventId)).toContain(theirs.eventId));
    expect(ofA.events.every((e) => e.tenantId === a.tenantId)).toBe(true);
    // Resuming does not leak either: replay is tenant-scoped too.
    const resumed = await open('', { token: b.apiKey, lastEventId: '0' });
    await eventually(() =>
      expect(resumed.events.map((e) => e.eventId)).toEqual([mine.eventId, marker.eventId]),
    );
  });

  it('sends a :keepalive comment every SSE_HEARTBEAT_MS', async () => {
    const c = await open('?types=webhook.test');
    await eventually(() => expect(c.raw.split(':keepalive\n').length).toBeGreaterThan(2));
  });

  it('renders each frame at the requested version when the type has it, else at the latest', async () => {
    const v1 = await open('?types=order.created,order.updated&resourceId=ord_v&version=1');
    const v2 = await open('?types=order.created,order.updated&resourceId=ord_v&version=2');
    const latest = await open('?types=order.created,order.updated&resourceId=ord_v');
    const created = await h.append(a.tenantId, 'order.created', 'ord_v', orderCreated('ord_v'));
    const updated = await h.append(a.tenantId, 'order.updated', 'ord_v', orderUpdated('ord_v', 2));
    for (const c of [v1, v2, latest]) await eventually(() => expect(c.events).toHaveLength(2));
    const positioned = (e: EventEnvelope, p: number) => ({ ...e, position: p });
    const [c1, u1] = v1.events;
    expect(c1).toEqual(renderAtVersion(positioned(created, c1.position!), 1));
    expect(c1.version).toBe(1);
    expect(v2.events[0]).toEqual(positioned(created, c1.position!));
    expect(latest.events[0].version).toBe(getEventType('order.created')!.latestVersion);
    // order.updated has no v2: it is sent at its latest version to every client.
    expect(u1).toEqual(positioned(updated, u1.position!));
    expect(v2.events[1]).toEqual(u1);
  });

  describe('refuses before the stream opens', () => {
    const status = async (query: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${gw.url}/events/stream${query}`, { headers });
      if (res.status === 200) {
        await res.body!.cancel();
        return 200;
      }
      const body = (await res.json()) as { status: number; title: string; instance: string };
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(body.status).toBe(res.status);
      // The path alone: a credential in the query string is never echoed back.
      expect(body.instance).toBe('/events/stream');
      return res.status;
    };

    it('answers 401 without a credential, or with an unknown, expired or revoked one', async () => {
      expect(await status('')).toBe(401);
      expect(await status('?access_token=tds_nope_nope')).toBe(401);
      expect(await status('', { Authorization: 'Bearer tdk_unknown_secret' })).toBe(401);
      expect(await status('', { Authorization: 'Basic Zm9vOmJhcg==' })).toBe(401);
      const expired = await h.createStreamToken(a, { expiresInMs: -1_000 });
      expect(await status(`?access_token=${expired}`)).toBe(401);
      const revoked = await h.createTenant();
      const token = await h.createStreamToken(revoked);
      expect(await status(`?access_token=${token}`)).toBe(200);
      await h.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [revoked.apiKeyId]);
      expect(await status(`?access_token=${token}`)).toBe(401);
      expect(await status('', { Authorization: `Bearer ${revoked.apiKey}` })).toBe(401);
    });

    it('rejects an unknown type pattern or version with 400, and a token not allowing the types with 403', async () => {
      expect(await status('?types=order.exploded', { Authorization: `Bearer ${a.apiKey}` })).toBe(400);
      expect(await status('?version=zero', { Authorization: `Bearer ${a.apiKey}` })).toBe(400);
      const orderOnly = await h.createStreamToken(a, { eventTypes: ['order.*'] });
      expect(await status(`?types=message.received&access_token=${orderOnly}`)).toBe(403);
    });

    it('reports 401 to an EventSource client, which then stops', async () => {
      const c = new SseClient(`${gw.url}/events/stream?access_token=tds_unknown_x`);
      clients.push(c);
      await eventually(() => expect(c.errors[0]?.code).toBe(401));
      expect(c.readyState).toBe(2);
    });
  });

  it('limits a stream token to its event types, intersected with the requested ones', async () => {
    const token = await h.createStreamToken(a, { eventTypes: ['order.*'] });
    const c = await SseClient.connect(`${gw.url}/events/stream?access_token=${token}`);
    clients.push(c);
    const narrowed = await SseClient.connect(
      `${gw.url}/events/stream?types=order.updated,message.*&access_token=${token}`,
    );
    clients.push(narrowed);
    await h.append(a.tenantId, 'message.received', 'msg_tok', messageReceived('msg_tok'));
    const created = await h.append(a.tenantId, 'order.created', 'ord_tok', orderCreated('ord_tok'));
    const updated = await h.append(a.tenantId, 'order.updated', 'ord_tok', orderUpdated('ord_tok', 2));
    await eventually(() =>
      expect(c.events.map((e) => e.eventId)).toEqual([created.eventId, updated.eventId]),
    );
    await eventually(() => expect(narrowed.events.map((e) => e.eventId)).toEqual([updated.eventId]));
  });

  describe('answers a Last-Event-ID it cannot resume from with event: reset, then streams live', () => {
    it.each([
      ['garbage', 'abc', 'malformed_last_event_id'],
      ['negative', '-5', 'malformed_last_event_id'],
      ['in the future', '999999999', 'future_last_event_id'],
    ])('%s id', async (name, id, reason) => {
      const orderId = `ord_reset_${name.replace(/\W/g, '_')}`;
      const c = await open(`?resourceId=${orderId}`, { lastEventId: id });
      await eventually(() => expect(c.resets).toHaveLength(1));
      const head = (await h.logged('true', [])).at(-1)?.position ?? 0;
      expect(c.resets[0]).toMatchObject({ reason, latestPosition: expect.any(Number) as number });
      expect(c.resets[0].latestPosition).toBeLessThanOrEqual(head);
      // The reset frame moves the client's cursor, so its next reconnect does not repeat the bad id.
      expect(c.frames[0].id).toBe(String(c.resets[0].latestPosition));
      const e = await h.append(a.tenantId, 'order.created', orderId, orderCreated(orderId));
      await eventually(() => expect(c.events.map((x) => x.eventId)).toEqual([e.eventId]));
    });
  });

  it('answers an id older than the replay window with event: reset carrying the earliest position', async () => {
    const narrow = await h.startGateway({ SSE_REPLAY_WINDOW: '2' });
    // Positioned in the log is not enough: an event the gateway has yet to consume would reach the stream
    // below live. A watcher seeing all four means the gateway has them.
    const watcher = await SseClient.connect(`${narrow.url}/events/stream?resourceId=ord_old`, {
      token: a.apiKey,
    });
    clients.push(watcher);
    for (let i = 0; i < 4; i++)
      await h.append(a.tenantId, 'order.updated', 'ord_old', orderUpdated('ord_old', i));
    await eventually(() => expect(watcher.events).toHaveLength(4));
    const head = (await h.logged('true', [])).at(-1)!.position;
    const c = await SseClient.connect(`${narrow.url}/events/stream`, { token: a.apiKey, lastEventId: '0' });
    clients.push(c);
    await eventually(() => expect(c.resets).toHaveLength(1));
    expect(c.resets[0]).toEqual(
      expect.objectContaining({ reason: 'expired_last_event_id', earliestPosition: head - 2 }),
    );
    expect(c.events).toEqual([]);
    // Within the window the same gateway replays normally.
    const ok = await SseClient.connect(`${narrow.url}/events/stream?resourceId=ord_old`, {
      token: a.apiKey,
      lastEventId: String(head - 2),
    });
    clients.push(ok);
    await eventually(() => expect(ok.events.map((e) => e.sequence)).toEqual([3, 4]));
    expect(ok.resets).toEqual([]);
  });

  it('dead-letters an undecodable Kafka record and keeps streaming', async () => {
    const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    try {
      const prefix = h.env.KAFKA_TOPIC_PREFIX;
      const c = await open('?resourceId=ord_after_poison');
      await producer.send({
        topic: `${prefix}events.order`,
        messages: [{ key: 'ord_poison', value: '{"not":"an envelope"}' }],
      });
      const after = await h.append(
        a.tenantId,
        'order.created',
        'ord_after_poison',
        orderCreated('ord_after_poison'),
      );
      await eventually(() => expect(c.events.map((e) => e.eventId)).toEqual([after.eventId]));
      const dlq = platformTopics(prefix).consumerDeadLetter;
      await eventually(async () => {
        const offsets = await admin.fetchTopicOffsets(dlq);
        expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBeGreaterThanOrEqual(1);
      });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
