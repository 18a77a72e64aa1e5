import { type ApiResponse, setupApiTest, type TestApi } from '../../../../test/support/api-app';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';

/** The usual api spec; `count`/`writes` read what requests changed. */
async function setup() {
  const t = await setupApiTest();
  const count = async (sql: string, params: unknown[] = []) =>
    Number(((await t.ds.query(sql, params)) as { n: number }[])[0].n);
  const writes = async () => ({
    messages: await count('SELECT count(*)::int AS n FROM messages WHERE deleted_at IS NULL'),
    events: await count('SELECT count(*)::int AS n FROM event_log'),
  });
  return { ...t, count, writes, send: t.api.raw };
}

const MESSAGE = { from: 'alice@example.com', channel: 'support', body: 'Where is my order?' };

describe('messages API', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    t = await setup();
    ({ api, a, b } = t);
  });

  afterAll(() => t.close());

  it('receives a message and records message.received with the same content in one transaction', async () => {
    const res = await api.call('POST', '/messages', a.apiKey, { ...MESSAGE, metadata: { lang: 'en' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/messages/${String(res.body.id)}`);
    expect(res.body).toMatchObject({ ...MESSAGE, metadata: { lang: 'en' }, version: 1 });
    expect(String(res.body.id)).toMatch(/^msg_[0-9a-f]{32}$/);
    const events = (await t.ds.query(
      'SELECT event_type, resource_type, sequence, data FROM event_log WHERE resource_id = $1',
      [res.body.id],
    )) as { event_type: string; resource_type: string; sequence: number; data: Record<string, unknown> }[];
    expect(events).toEqual([
      {
        event_type: 'message.received',
        resource_type: 'message',
        sequence: 1,
        data: { messageId: res.body.id, ...MESSAGE, metadata: { lang: 'en' } },
      },
    ]);
    expect((await api.call('GET', `/messages/${String(res.body.id)}`, a.readKey)).body).toEqual(res.body);
  });

  it('lists newest first with cursor pagination and a channel filter, only the caller tenant', async () => {
    const c = await createTenant(t.ds, { name: 'lister' });
    for (let i = 0; i < 5; i++)
      await api.call('POST', '/messages', c.apiKey, { ...MESSAGE, channel: i % 2 ? 'sales' : 'support' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await api.call(
        'GET',
        `/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        c.readKey,
      );
      expect(page.status).toBe(200);
      seen.push(...(page.body.data as { id: string }[]).map((m) => m.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    const sales = await api.call('GET', '/messages?channel=sales', c.readKey);
    expect((sales.body.data as { channel: string }[]).map((m) => m.channel)).toEqual(['sales', 'sales']);
    expect((await api.call('GET', '/messages?limit=101', c.readKey)).status).toBe(400);
  });

  it('deletes a message: message.deleted with sequence 2, then 404', async () => {
    const { body: msg } = await api.call('POST', '/messages', a.apiKey, MESSAGE);
    const id = String(msg.id);
    expect((await api.call('DELETE', `/messages/${id}`, a.apiKey)).status).toBe(204);
    expect((await api.call('GET', `/messages/${id}`, a.apiKey)).status).toBe(404);
    expect((await api.call('DELETE', `/messages/${id}`, a.apiKey)).status).toBe(404);
    const events = (await t.ds.query(
      'SELECT event_type, sequence FROM event_log WHERE resource_id = $1 ORDER BY sequence',
      [id],
    )) as { event_type: string; sequence: number }[];
    expect(events).toEqual([
      { event_type: 'message.received', sequence: 1 },
      { event_type: 'message.deleted', sequence: 2 },
    ]);
  });

  it('replays an idempotent POST /messages and rejects the key with a different body (422)', async () => {
    const key = `msg-${Date.now()}`;
    const before = await t.writes();
    const first = await t.send('POST', '/messages', a.apiKey, JSON.stringify(MESSAGE), {
      'idempotency-key': key,
    });
    const replay = await t.send('POST', '/messages', a.apiKey, JSON.stringify(MESSAGE), {
      'idempotency-key': key,
    });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await t.send('POST', '/messages', a.apiKey, JSON.stringify({ ...MESSAGE, body: 'other' }), {
      'idempotency-key': key,
    });
    expect(other.status).toBe(422);
    expect(await t.writes()).toEqual({ messages: before.messages + 1, events: before.events + 1 });
  });

  it("answers 404 on every message endpoint for another tenant's message, exactly as for a missing one", async () => {
    const { body: msg } = await api.call('POST', '/messages', a.apiKey, MESSAGE);
    const id = String(msg.id);
    const before = await t.writes();
    for (const method of ['GET', 'DELETE']) {
      const foreign = await api.call(method, `/messages/${id}`, b.apiKey);
      const missing = await api.call(method, '/messages/msg_missing', b.apiKey);
      expect([method, foreign.status]).toEqual([method, 404]);
      expect(foreign.headers.get('content-type')).toContain('application/problem+json');
      expect(foreign.body.title).toBe(missing.body.title);
    }
    expect((await api.call('GET', '/messages', b.apiKey)).body.data).toEqual([]);
    expect(await t.writes()).toEqual(before);
  });

  describe('bad input gets a precise 4xx problem and writes nothing', () => {
    const cases: { name: string; body: () => unknown; field: string }[] = [
      { name: 'a body over 64 KiB', body: () => ({ ...MESSAGE, body: 'x'.repeat(65_537) }), field: 'body' },
      {
        name: 'a body over 64 KiB of UTF-8 in fewer characters',
        body: () => ({ ...MESSAGE, body: '€'.repeat(30_000) }),
        field: 'body',
      },
      { name: 'an empty body', body: () => ({ ...MESSAGE, body: '' }), field: 'body' },
      { name: 'a missing sender', body: () => ({ channel: 'support', body: 'hi' }), field: 'from' },
      { name: 'a NUL byte in the body', body: () => ({ ...MESSAGE, body: 'a\u0000b' }), field: 'body' },
      { name: 'an unknown field', body: () => ({ ...MESSAGE, priority: 'high' }), field: 'priority' },
      { name: 'non-string metadata', body: () => ({ ...MESSAGE, metadata: { n: 1 } }), field: 'metadata' },
    ];
    it.each(cases)('$name', async ({ body, field }) => {
      const before = await t.writes();
      const res = await api.call('POST', '/messages', a.apiKey, body());
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 400, title: expect.any(String) as string });
      expect((res.body.errors ?? []).map((e) => e.field)).toContain(field);
      expect(await t.writes()).toEqual(before);
    });

    it('needs the write scope to post (403) and writes nothing', async () => {
      const before = await t.writes();
      const res = await api.call('POST', '/messages', a.readKey, MESSAGE);
      expect(res.status).toBe(403);
      expect(await t.writes()).toEqual(before);
    });
  });
});
