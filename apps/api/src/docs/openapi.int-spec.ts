import { listEventTypes } from '@tidings/events';
import { createApp } from '@tidings/runtime';
import { createTestDatabase } from '../../../../test/support/infra';
import type { ApiConfig } from '../api.config';
import { ApiModule } from '../api.module';
import { setupOpenApi } from './openapi';

// Operational endpoints of every app: documented in the README, deliberately outside the API contract.
const OPERATIONAL = ['/health/live', '/health/ready', '/metrics'];
// Served to browsers, not to API clients: Swagger UI and the web console (docs/console.md).
const PAGES = /^\/(docs|console)\b/;

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
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
    schemas: Record<string, { properties: Record<string, unknown> }>;
  };
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

async function setup() {
  const db = await createTestDatabase();
  const { app, url } = await createApp<ApiConfig>(
    () => ApiModule.forRoot({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error' }),
    { app: 'api', port: () => 0, configure: (a) => setupOpenApi(a) },
  );
  return { app, url, db };
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

  afterAll(async () => {
    await ctx?.app.close();
    await ctx?.db.drop();
  });

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

  it('serves Swagger UI at /docs', async () => {
    const res = await fetch(`${ctx.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('swagger');
  });
});
