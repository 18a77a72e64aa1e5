import { createDataSource } from '@tidings/db';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { DataSource } from 'typeorm';
import { startApi, type TestApi } from '../../../../test/support/api-app';
import { createTestDatabase } from '../../../../test/support/infra';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';

interface Raw {
  status: number;
  contentType: string | null;
  body: Record<string, unknown> & { errors?: { field: string; message: string }[] };
}

async function setup() {
  const db = await createTestDatabase();
  const ds = createDataSource(db.url, 2);
  await ds.initialize();
  const api = await startApi(db.url, { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
  /** One request with exactly these bytes and headers (no Authorization unless given). */
  const raw = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string | Buffer,
  ): Promise<Raw> => {
    const res = await fetch(`${api.url}${path}`, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      contentType: res.headers.get('content-type'),
      body: text ? (JSON.parse(text) as Raw['body']) : {},
    };
  };
  const tables = (
    await ds.query<{ name: string }[]>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
  ).map((t) => t.name);
  /** Row count and content checksum of every table: a refused request must change neither. */
  const snapshot = async () =>
    Object.fromEntries(
      await Promise.all(
        tables.map(async (name) => {
          const [row] = await ds.query<{ n: number; sum: string | null }[]>(
            `SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY t::text)) AS sum FROM "${name}" t`,
          );
          return [name, row] as const;
        }),
      ),
    );
  return { db, ds, api, raw, snapshot };
}

describe('hostile input to the api', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let a: TestTenant;
  let orderId: string;
  let webhookId: string;

  beforeAll(async () => {
    t = await setup();
    api = t.api;
    a = await createTenant(t.ds, { name: 'a' });
    const order = await api.call('POST', '/orders', a.apiKey, {
      customerId: 'cus_1',
      currency: 'EUR',
      items: [{ sku: 'A', quantity: 1, unitPriceMinor: 100 }],
      metadata: { channel: 'web' },
    });
    orderId = order.body.id as string;
    const hook = await api.call('POST', '/webhooks', a.apiKey, {
      url: 'http://127.0.0.1:9/never-called',
      eventTypes: ['order.*'],
    });
    webhookId = hook.body.id as string;
    // Disabled, so that re-enabling with replayFrom passes the service's rules and only the time is wrong.
    await api.call('PATCH', `/webhooks/${webhookId}`, a.apiKey, { status: 'disabled' });
    // A second page exists for both lists, so a forged cursor reaches the query.
    await api.call('POST', '/messages', a.apiKey, { from: 'a@example.com', channel: 'c', body: 'hi' });
  });

  afterAll(async () => {
    await api.app.close();
    await (t.ds as DataSource).destroy();
    await t.db.drop();
  });

  /** Sends a request, expects the precise problem, and that no table changed. */
  async function expectRefused(
    send: () => Promise<{
      status: number;
      headers?: Headers;
      contentType?: string | null;
      body: Raw['body'];
    }>,
    status: number,
    field?: string,
  ): Promise<Raw['body']> {
    const before = await t.snapshot();
    const res = await send();
    expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { status } });
    expect(res.contentType ?? res.headers?.get('content-type')).toContain('application/problem+json');
    if (field) expect(res.body.errors?.map((e) => e.field)).toContain(field);
    expect(await t.snapshot()).toEqual(before);
    return res.body;
  }

  describe('null where a value is optional but not nullable', () => {
    it.each(['items', 'customerId', 'metadata'])('PATCH /orders/:id {"%s": null} is a 400', async (field) => {
      await expectRefused(
        () => api.call('PATCH', `/orders/${orderId}`, a.apiKey, { [field]: null }),
        400,
        field,
      );
    });

    it('POST /stream-tokens {"eventTypes": null} is a 400', async () => {
      await expectRefused(
        () => api.call('POST', '/stream-tokens', a.apiKey, { eventTypes: null }),
        400,
        'eventTypes',
      );
    });

    it('POST /orders {"metadata": null} is a 400', async () => {
      const order = {
        customerId: 'c',
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceMinor: 1 }],
      };
      await expectRefused(
        () => api.call('POST', '/orders', a.apiKey, { ...order, metadata: null }),
        400,
        'metadata',
      );
    });

    it('still clears notes with null', async () => {
      await api.call('PATCH', `/orders/${orderId}`, a.apiKey, { notes: 'ring twice' });
      const res = await api.call('PATCH', `/orders/${orderId}`, a.apiKey, { notes: null });
      expect(res.status).toBe(200);
      expect(res.body.notes).toBeNull();
    });
  });

  describe('ISO 8601 spellings that are not RFC 3339 timestamps', () => {
    const SPELLINGS = ['2026-W01', '20260101T000000Z', '-0001-01-01T00:00:00Z', '0000-01-01T00:00:00Z'];

    it.each(SPELLINGS)('GET /orders?createdAfter=%s and createdBefore are 400s', async (value) => {
      for (const field of ['createdAfter', 'createdBefore']) {
        await expectRefused(
          () => api.call('GET', `/orders?${field}=${encodeURIComponent(value)}`, a.apiKey),
          400,
          field,
        );
      }
    });

    it.each(SPELLINGS)('POST /dead-letters/replay since/until=%s are 400s', async (value) => {
      for (const field of ['since', 'until']) {
        await expectRefused(
          () => api.call('POST', '/dead-letters/replay', a.apiKey, { [field]: value }),
          400,
          field,
        );
      }
    });

    it.each(SPELLINGS)('POST /webhooks/:id/recover since=%s is a 400', async (value) => {
      await expectRefused(
        () => api.call('POST', `/webhooks/${webhookId}/recover`, a.apiKey, { since: value }),
        400,
        'since',
      );
    });

    it.each(SPELLINGS)('PATCH /webhooks/:id replayFrom=%s is a 400', async (value) => {
      await expectRefused(
        () => api.call('PATCH', `/webhooks/${webhookId}`, a.apiKey, { status: 'active', replayFrom: value }),
        400,
        'replayFrom',
      );
    });

    it('still filters by an RFC 3339 time and by a date', async () => {
      expect(
        (await api.call('GET', '/orders?createdAfter=2000-01-01T00:00:00%2B02:00', a.apiKey)).status,
      ).toBe(200);
      expect((await api.call('GET', '/orders?createdBefore=9999-12-31', a.apiKey)).body.data).toHaveLength(1);
    });
  });

  describe('forged list cursors', () => {
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    const FORGED = [
      [
        'a NUL in the id',
        (prefix: string) => b64(JSON.stringify(['2026-01-01T00:00:00.000Z', `${prefix}\u0000`])),
      ],
      [
        'a year out of range',
        (prefix: string) => b64(JSON.stringify(['+275760-09-13T00:00:00.000Z', `${prefix}1`])),
      ],
    ] as const;

    it.each(FORGED)('GET /orders with %s is a 400', async (_name, forge) => {
      await expectRefused(() => api.call('GET', `/orders?cursor=${forge('ord_')}`, a.apiKey), 400, 'cursor');
    });

    it.each(FORGED)('GET /messages with %s is a 400', async (_name, forge) => {
      await expectRefused(
        () => api.call('GET', `/messages?cursor=${forge('msg_')}`, a.apiKey),
        400,
        'cursor',
      );
    });

    it('GET /webhooks with a NUL in the id is a 400', async () => {
      await expectRefused(
        () => api.call('GET', `/webhooks?cursor=${b64('whk_\u0000')}`, a.apiKey),
        400,
        'cursor',
      );
    });

    it('still pages with the cursors it returns', async () => {
      await api.call('POST', '/messages', a.apiKey, { from: 'b@example.com', channel: 'c', body: 'again' });
      const first = await api.call('GET', '/messages?limit=1', a.apiKey);
      const second = await api.call(
        'GET',
        `/messages?limit=1&cursor=${first.body.nextCursor as string}`,
        a.apiKey,
      );
      expect(second.status).toBe(200);
      expect(second.body.data).toHaveLength(1);
    });
  });

  describe('a Content-Encoding the body does not match', () => {
    it.each(['gzip', 'deflate', 'br'])(
      'Content-Encoding: %s with plain bytes is a 400 before auth',
      async (encoding) => {
        const body = await expectRefused(
          () =>
            t.raw(
              'POST',
              '/orders',
              { 'content-type': 'application/json', 'content-encoding': encoding },
              '{"not":"compressed"}',
            ),
          400,
        );
        expect(body.detail).toBe('The request body is not valid data for its Content-Encoding');
      },
    );

    it.each([
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ] as const)('still reads a valid %s body', async (encoding, compress) => {
      const res = await t.raw(
        'POST',
        '/messages',
        {
          authorization: `Bearer ${a.apiKey}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
        compress(Buffer.from(JSON.stringify({ from: 'z@example.com', channel: 'zip', body: encoding }))),
      );
      expect(res.status).toBe(201);
      expect(res.body.body).toBe(encoding);
    });
  });
});
