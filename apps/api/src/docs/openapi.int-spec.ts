import { listEventTypes } from '@tidings/events';
import { setupApiTest } from '../../../../test/support/api-app';
import { setupOpenApi } from './openapi';

// Operational endpoints of every app: documented in the README, deliberately outside the API contract.
const OPERATIONAL = ['/health/live', '/health/ready', '/metrics'];
// Served to browsers, not to API clients: Swagger UI and the web console (docs/console.md).
const PAGES = /^\/(docs|console)\b/;

interface Doc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown[];
        responses: Record<string, unknown>;
        requestBody?: { required?: boolean };
        parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
      }
    >
  >;
  webhooks: Record<
    string,
    {
      post: {
        parameters: { name: string }[];
        requestBody: { content: Record<string, { schema: { $ref?: string; oneOf?: { $ref: string }[] } }> };
      };
    }
  >;
  components: {
    securitySchemes: Record<string, unknown>;
    schemas: Record<
      string,
      {
        properties: Record<string, unknown>;
        required?: string[];
        minProperties?: number;
        additionalProperties?: unknown;
      }
    >;
  };
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

async function setup() {
  const t = await setupApiTest({}, { configure: (app) => setupOpenApi(app) });
  const call = (method: string, path: string, body?: unknown) => t.api.call(method, path, t.a.apiKey, body);
  return { app: t.api.app, url: t.api.url, close: t.close, call };
}

describe('OpenAPI document', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let doc: Doc;

  beforeAll(async () => {
    ctx = await setup();
    const res = await fetch(`${ctx.url}/docs-json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });

  afterAll(() => ctx?.close());

  it('is OpenAPI 3.1.0 with bearer auth by opaque API keys', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'tdk_<key>',
    });
  });

  it("documents every route of the app's router", () => {
    const router = (ctx.app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } }).router;
    const routes = router.stack
      .filter((layer) => layer.route)
      .flatMap((layer) =>
        Object.keys(layer.route!.methods).map((method) => ({
          method,
          path: layer.route!.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
        })),
      )
      .filter((r) => !OPERATIONAL.includes(r.path) && !PAGES.test(r.path));
    // The walk must see the router for real (else "nothing missing" proves nothing).
    expect(routes).toEqual(
      expect.arrayContaining([
        { method: 'get', path: '/events' },
        { method: 'get', path: '/events/{eventId}' },
        { method: 'get', path: '/orders/{id}/history' },
      ]),
    );
    const missing = routes.filter((r) => !doc.paths[r.path]?.[r.method]);
    expect(missing).toEqual([]);
  });

  it('describes problem+json errors and auth on every operation', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect([path, method, op.responses['500']]).toEqual([path, method, expect.anything()]);
        if (op.security && op.security.length > 0) {
          expect([path, method, op.responses['401']]).toEqual([path, method, expect.anything()]);
        }
      }
    }
    expect(doc.paths['/events/{eventId}'].get.security).toEqual([{ bearer: [] }]);
    // Every scheme an operation names is declared (the operator's key for tenant creation included).
    const used = Object.values(doc.paths).flatMap((item) =>
      Object.values(item).flatMap((op) => (op.security ?? []).flatMap((r) => Object.keys(r as object))),
    );
    expect(used).toContain('bearer');
    expect([...new Set(used)].filter((name) => !(name in doc.components.securitySchemes))).toEqual([]);
  });

  it('has a webhooks entry for every catalogue type, with every version of it and the signature headers', () => {
    const schemas = doc.components.schemas;
    for (const info of listEventTypes()) {
      const hook = doc.webhooks[info.type];
      expect(hook).toBeDefined();
      const body = hook.post.requestBody.content['application/json'].schema;
      const refs = (body.oneOf ?? [body]).map((s) => s.$ref);
      expect(refs).toEqual(info.versions.map((v) => `#/components/schemas/${info.type}.v${v.version}`));
      for (const v of info.versions) {
        const envelope = schemas[`${info.type}.v${v.version}`];
        expect(envelope.properties.version).toEqual({ const: v.version });
        expect(envelope.properties.data).toEqual(JSON.parse(JSON.stringify(v.jsonSchema)));
      }
      expect(hook.post.parameters.map((p) => p.name)).toEqual([
        'webhook-id',
        'webhook-timestamp',
        'webhook-signature',
      ]);
    }
    expect(Object.keys(doc.webhooks).sort()).toEqual(
      listEventTypes()
        .map((t) => t.type)
        .sort(),
    );
  });

  describe('says what the server does (regressions found by fuzzing and review)', () => {
    const declares = (path: string, method: string, status: string) =>
      expect([path, method, Object.keys(doc.paths[path][method].responses)]).toEqual([
        path,
        method,
        expect.arrayContaining([status]),
      ]);
    const newOrder = () =>
      ctx.call('POST', '/orders', {
        customerId: 'cus_1',
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceMinor: 100 }],
      });

    it('409 on PATCH /orders/{id} of a cancelled order is declared', async () => {
      const order = await newOrder();
      await ctx.call('POST', `/orders/${String(order.body.id)}/cancel`, {});
      expect(
        (await ctx.call('PATCH', `/orders/${String(order.body.id)}`, { customerId: 'cus_2' })).status,
      ).toBe(409);
      declares('/orders/{id}', 'patch', '409');
    });

    it('an empty PATCH /orders/{id} is refused, and the document requires a field', async () => {
      const order = await newOrder();
      expect((await ctx.call('PATCH', `/orders/${String(order.body.id)}`, {})).status).toBe(400);
      expect(doc.paths['/orders/{id}'].patch.requestBody?.required).toBe(true);
      expect(doc.components.schemas.UpdateOrderDto.minProperties).toBe(1);
    });

    it('asOf is documented as a sequence or a time, which is all the server reads', async () => {
      const order = await newOrder();
      expect((await ctx.call('GET', `/orders/${String(order.body.id)}?asOf=yesterday`)).status).toBe(400);
      expect((await ctx.call('GET', `/orders/${String(order.body.id)}?asOf=1`)).status).toBe(200);
      const asOf = doc.paths['/orders/{id}'].get.parameters?.find((p) => p.name === 'asOf');
      const [sequence] = asOf?.schema.anyOf as { pattern: string }[];
      expect(new RegExp(sequence.pattern).test('yesterday')).toBe(false);
      expect(new RegExp(sequence.pattern).test('1')).toBe(true);
    });

    it('409 on revoking a revoked key is declared', async () => {
      const issued = await ctx.call('POST', '/api-keys', { name: 'twice', scopes: ['read'] });
      await ctx.call('DELETE', `/api-keys/${String(issued.body.id)}`);
      expect((await ctx.call('DELETE', `/api-keys/${String(issued.body.id)}`)).status).toBe(409);
      declares('/api-keys/{id}', 'delete', '409');
    });

    it('404 on POST /tenants without ADMIN_API_KEY is declared', async () => {
      expect((await ctx.call('POST', '/tenants', { name: 'x' })).status).toBe(404);
      declares('/tenants', 'post', '404');
    });

    it('404 on GET /dead-letters for an unknown subscriptionId is declared', async () => {
      expect((await ctx.call('GET', '/dead-letters?subscriptionId=whk_unknown')).status).toBe(404);
      declares('/dead-letters', 'get', '404');
    });

    it('bodies whose fields are all optional may be left out, and the document says so', async () => {
      const hook = await ctx.call('POST', '/webhooks', {
        url: 'https://receiver.example/hook',
        eventTypes: ['order.*'],
      });
      const id = String(hook.body.id);
      const cases: [string, string, string, number][] = [
        ['POST', '/dead-letters/replay', '/dead-letters/replay', 202],
        ['POST', '/stream-tokens', '/stream-tokens', 201],
        ['POST', `/webhooks/${id}/test`, '/webhooks/{id}/test', 202],
        ['PATCH', `/webhooks/${id}`, '/webhooks/{id}', 200],
      ];
      for (const [method, url, path, status] of cases) {
        expect([method, url, (await ctx.call(method, url)).status]).toEqual([method, url, status]);
        expect([method, path, doc.paths[path][method.toLowerCase()].requestBody?.required]).toEqual([
          method,
          path,
          false,
        ]);
      }
    });

    it('request bodies refuse unknown fields, and their schemas say additionalProperties: false', async () => {
      expect((await ctx.call('POST', '/stream-tokens', { unknown: 1 })).status).toBe(400);
      expect(doc.components.schemas.CreateStreamTokenDto.additionalProperties).toBe(false);
      expect(doc.components.schemas.CreateOrderDto.additionalProperties).toBe(false);
    });

    it('notes are strings (or null) in the order bodies', () => {
      for (const dto of ['CreateOrderDto', 'UpdateOrderDto'])
        expect(doc.components.schemas[dto].properties.notes).toMatchObject({ type: ['string', 'null'] });
    });
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await fetch(`${ctx.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('swagger');
  });
});
