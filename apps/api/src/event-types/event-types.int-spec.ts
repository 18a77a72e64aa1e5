import { type EventTypeInfo, getEventType, listEventTypes } from '@tidings/events';
import { setupApiTest } from '../../../../test/support/api-app';
import { createTenant } from '../../../../test/support/tenant';

/** The usual api spec, and a tenant whose only key is read-only. */
async function setup() {
  const t = await setupApiTest();
  const tenant = await createTenant(t.ds, { name: 'event-types', scopes: ['read'] });
  const get = (path: string, key: string | null = tenant.apiKey) =>
    fetch(`${t.api.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { ...t, get };
}

describe('GET /event-types', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;

  beforeAll(async () => {
    ctx = await setup();
  });

  afterAll(() => ctx?.close());

  it('serves the whole catalogue to a read-only key', async () => {
    const res = await ctx.get('/event-types');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: EventTypeInfo[] };
    expect(body.data).toEqual(JSON.parse(JSON.stringify(listEventTypes())));
    expect(body.data.map((t) => t.type)).toEqual(
      expect.arrayContaining(['order.created', 'message.received', 'webhook.test']),
    );
  });

  it('serves one type with every version, its JSON Schema, example and deprecation', async () => {
    const res = await ctx.get('/event-types/order.created');
    expect(res.status).toBe(200);
    const body = (await res.json()) as EventTypeInfo;
    expect(body).toEqual(JSON.parse(JSON.stringify(getEventType('order.created'))));
    expect(body.latestVersion).toBe(2);
    const v1 = body.versions.find((v) => v.version === 1);
    expect(v1).toMatchObject({ deprecated: true, sunset: expect.any(String) });
    for (const v of body.versions) {
      expect(v.jsonSchema).toMatchObject({ type: 'object' });
      expect(v.example).toEqual(expect.any(Object));
    }
  });

  it('answers 404 problem+json for an unknown type', async () => {
    const res = await ctx.get('/event-types/order.teleported');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('requires an API key', async () => {
    expect((await ctx.get('/event-types', null)).status).toBe(401);
  });
});
