import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { setupApiTest, type TestApi } from '../../../../test/support/api-app';
import { tableSnapshotter } from '../../../../test/support/table-snapshot';
import type { TestTenant } from '../../../../test/support/tenant';
import { IPV6_OUTSIDE_GLOBAL_UNICAST_URLS } from '../../../../test/fixtures/ssrf-ipv6';

interface Raw {
  status: number;
  contentType: string | null;
  body: Record<string, unknown> & { errors?: { field: string; message: string }[] };
}

const ADMIN = 'operator-key-for-hostile-input-tests';

async function setup() {
  // ADMIN_RATE_LIMIT_* stay at their defaults: the tenant-creation limit is tested as deployed.
  const t = await setupApiTest({
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    ADMIN_API_KEY: ADMIN,
  });
  const { api, ds } = t;
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
  const snapshot = await tableSnapshotter(ds);
  return { ...t, raw, snapshot };
}

const json = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

describe('hostile input to the api', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let a: TestTenant;
  let orderId: string;
  let webhookId: string;

  beforeAll(async () => {
    t = await setup();
    ({ api, a } = t);
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

  afterAll(() => t.close());

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

  describe('IPv6 literals outside global unicast (http and 127.0.0.1 allowed, as in development)', () => {
    it.each(IPV6_OUTSIDE_GLOBAL_UNICAST_URLS)(
      'POST /webhooks, PATCH /webhooks/:id and PUT /alert-endpoint refuse %s',
      async (url) => {
        for (const send of [
          () => api.call('POST', '/webhooks', a.apiKey, { url, eventTypes: ['order.*'] }),
          () => api.call('PATCH', `/webhooks/${webhookId}`, a.apiKey, { url }),
          () => api.call('PUT', '/alert-endpoint', a.apiKey, { url }),
        ])
          expect(await expectRefused(send, 422, 'url')).toMatchObject({ reason: 'forbidden_address' });
      },
    );
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

    it.each(SPELLINGS)('GET /orders/:id?asOf=%s is a 400 (same parser)', async (value) => {
      await expectRefused(
        () => api.call('GET', `/orders/${orderId}?asOf=${encodeURIComponent(value)}`, a.apiKey),
        400,
        'asOf',
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

  describe('the HTTP edge', () => {
    const MESSAGE = { from: 'a@example.com', channel: 'edge', body: 'hi' };

    it('answers headers over 16 KiB with a 431 problem', async () => {
      await expectRefused(
        () =>
          t.raw('GET', '/orders', {
            authorization: `Bearer ${a.apiKey}`,
            'x-padding': 'x'.repeat(17 * 1024),
          }),
        431,
      );
    });

    it('accepts the bearer scheme in any case, as RFC 9110 says', async () => {
      for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
        expect((await t.raw('GET', '/orders', { authorization: `${scheme} ${a.apiKey}` })).status).toBe(200);
      }
      await expectRefused(() => t.raw('GET', '/orders', { authorization: `Basic ${a.apiKey}` }), 401);
    });

    it('gives JSON nested deeper than 32 levels its own message', async () => {
      const deep = {
        ...MESSAGE,
        metadata: JSON.parse(`${'{"a":'.repeat(40)}"x"${'}'.repeat(40)}`) as object,
      };
      const body = await expectRefused(() => api.call('POST', '/messages', a.apiKey, deep), 400);
      expect(body.detail).toBe('JSON may be nested at most 32 levels deep');
    });

    it('refuses a body that is not valid UTF-8 instead of storing U+FFFD', async () => {
      const bytes = Buffer.concat([
        Buffer.from('{"from":"a@example.com","channel":"edge","body":"caf'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}'),
      ]);
      const body = await expectRefused(() => t.raw('POST', '/messages', json(a.apiKey), bytes), 400);
      expect(body.detail).toBe('The request body is not valid UTF-8');
    });

    it.each([
      ['__proto__', `{"__proto__":{"x":1},"from":"a@example.com","channel":"edge","body":"hi"}`, '__proto__'],
      ['constructor', `{"constructor":1,"from":"a@example.com","channel":"edge","body":"hi"}`, 'constructor'],
      [
        'a nested __proto__',
        `{"metadata":{"__proto__":"x"},"from":"a","channel":"e","body":"hi"}`,
        'metadata.__proto__',
      ],
      ['any other unknown key', `{"colour":1,"from":"a@example.com","channel":"edge","body":"hi"}`, 'colour'],
    ])('refuses %s like any unknown key', async (_name, text, field) => {
      const body = await expectRefused(() => t.raw('POST', '/messages', json(a.apiKey), text), 400, field);
      expect(body.errors?.find((e) => e.field === field)?.message).toMatch(/should not exist$/);
    });

    it('refuses __proto__ and constructor in the query like any unknown parameter', async () => {
      for (const name of ['__proto__', 'constructor', 'colour'])
        await expectRefused(() => api.call('GET', `/orders?${name}=1`, a.apiKey), 400, name);
    });

    it.each(['/orders', '/messages', '/webhooks'])(
      '%s?limit=abc says the limit must be an integer',
      async (path) => {
        const body = await expectRefused(() => api.call('GET', `${path}?limit=abc`, a.apiKey), 400, 'limit');
        expect(body.errors).toEqual([{ field: 'limit', message: 'limit must be an integer number' }]);
      },
    );
  });

  describe('POST /tenants', () => {
    it('rate-limits attempts at the default of 10 at once, 1 a second, before looking at the key', async () => {
      const before = await t.snapshot();
      const attempts = await Promise.all(
        Array.from({ length: 30 }, () =>
          t.raw('POST', '/tenants', json('wrong-key-of-another-length'), JSON.stringify({ name: 'x' })),
        ),
      );
      const limited = attempts.filter((r) => r.status === 429);
      expect(attempts.filter((r) => r.status === 401).length).toBeLessThanOrEqual(10 + 1);
      expect(limited.length).toBeGreaterThanOrEqual(30 - 10 - 5);
      for (const r of limited) expect(r.contentType).toContain('application/problem+json');
      expect(await t.snapshot()).toEqual(before);
      const blocked = await fetch(`${api.url}/tenants`, {
        method: 'POST',
        headers: json(ADMIN),
        body: '{"name":"y"}',
      });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });
  });
});
