import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataSource } from '@tidings/db';
import { freePort } from '../scripts/infra/ports';
import { apiCall } from './support/api-app';
import { type AppProcess, startAppProcess } from './support/app-process';
import { applyWalkthrough, type Walkthrough } from './support/doc-walkthrough';
import { createTestDatabase } from './support/infra';
import { createTenant } from './support/tenant';

/**
 * docs/adding-a-resource.md, run as written (test/docs-snippets.int-spec.ts leaves this page to this file: its
 * blocks are one change, not separate programs). The page is applied to a copy of the repository — its own
 * commands generate the migration, regenerate the documents and run `npm run check` and the unit suite there —
 * and then that copy's api, with the invoices, is started on a database migrated by that copy.
 */
const PAGE = readFileSync(join(__dirname, '..', 'docs', 'adding-a-resource.md'), 'utf8');

async function setup() {
  // The test template is migrated to the current schema: the database `db:generate` diffs the entities against.
  const db = await createTestDatabase();
  let walk: Walkthrough | undefined;
  let api: AppProcess | undefined;
  const close = async () => {
    await api?.kill();
    walk?.remove();
    await db.drop();
  };
  try {
    walk = applyWalkthrough(PAGE, { DATABASE_URL: db.url });
    const inCopy = (args: string[]) =>
      spawnSync('npm', ['run', '--silent', ...args], {
        cwd: walk!.dir,
        env: { ...process.env, DATABASE_URL: db.url, TS_NODE_PROJECT: join(walk!.dir, 'tsconfig.json') },
        encoding: 'utf8',
        timeout: 300_000,
      });
    const migrated = inCopy(['db:migrate']);
    if (migrated.status !== 0) throw new Error(`db:migrate in the copy failed:\n${migrated.stderr}`);
    const port = await freePort();
    api = await startAppProcess(
      'api',
      {
        DATABASE_URL: db.url,
        API_PORT: String(port),
        LOG_LEVEL: 'error',
        AUTH_CACHE_MS: '0',
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '100000',
      },
      port,
      { root: walk.dir },
    );
    const a = await createTenant(db.url, { name: 'invoices a' });
    const b = await createTenant(db.url, { name: 'invoices b' });
    const ds = createDataSource(db.url, 1);
    await ds.initialize();
    /** The events of one resource as the log and the outbox hold them, in sequence order. */
    const logged = (resourceId: string) =>
      ds.query<{ event_type: string; resource_type: string; sequence: number; in_outbox: boolean }[]>(
        `SELECT e.event_type, e.resource_type, e.sequence,
                EXISTS (SELECT 1 FROM outbox o WHERE o.event_log_id = e.id) AS in_outbox
           FROM event_log e WHERE e.resource_id = $1 ORDER BY e.sequence`,
        [resourceId],
      );
    const invoices = async () =>
      (await ds.query<{ n: number }[]>('SELECT count(*)::int AS n FROM invoices'))[0].n;
    return {
      walk,
      invoices,
      call: apiCall(api.url),
      a,
      b,
      logged,
      inCopy,
      close: async () => {
        await ds.destroy();
        await close();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

describe('docs/adding-a-resource.md', () => {
  let t: Awaited<ReturnType<typeof setup>>;

  beforeAll(async () => {
    t = await setup();
  }, 900_000);

  afterAll(() => t?.close());

  it('is one change: the invoices folder, the few lines outside it, the migration, regenerated files, checks', () => {
    expect(t.walk.log.filter((l) => l.startsWith('wrote ')).sort()).toEqual([
      'wrote apps/api/src/invoices/invoice.resource.ts',
      'wrote apps/api/src/invoices/invoices.controller.ts',
      'wrote apps/api/src/invoices/invoices.dto.ts',
      'wrote apps/api/src/invoices/invoices.module.ts',
      'wrote apps/api/src/invoices/invoices.service.ts',
      'wrote libs/db/src/entities/invoice.entity.ts',
      'wrote libs/db/src/migrations/1796500000000-Invoices.ts',
      'wrote libs/events/src/invoice.events.ts',
    ]);
    // The page's commands ran there: the migration generator, the regenerations, `npm run check`, the unit suite.
    expect(t.walk.log.filter((l) => l.startsWith('ran '))).toEqual([
      'ran npm run db:generate -- libs/db/src/migrations/Invoices',
      'ran UPDATE_SCHEMA_SNAPSHOTS=1 npx jest --selectProjects unit -- schema-compatibility',
    ]);
  });

  it('issues, pays, lists and deletes an invoice, each change an event in the log and the outbox', async () => {
    const issued = await t.call('POST', '/invoices', t.a.apiKey, {
      customerId: 'cus_42',
      currency: 'EUR',
      amountMinor: 12000,
    });
    expect(issued.status).toBe(201);
    const id = String(issued.body.id);
    expect(id).toMatch(/^inv_[0-9a-f]{32}$/);
    expect(issued.headers.get('location')).toBe(`/invoices/${id}`);
    expect(issued.body).toEqual({
      id,
      customerId: 'cus_42',
      currency: 'EUR',
      amountMinor: 12000,
      status: 'open',
      paidAt: null,
      version: 1,
      createdAt: expect.any(String) as string,
      updatedAt: issued.body.createdAt,
    });

    const paid = await t.call('POST', `/invoices/${id}/pay`, t.a.apiKey);
    expect(paid).toMatchObject({ status: 200, body: { status: 'paid', version: 2 } });
    expect(Date.parse(String(paid.body.paidAt))).not.toBeNaN();
    expect((await t.call('POST', `/invoices/${id}/pay`, t.a.apiKey)).status).toBe(409);

    const other = await t.call('POST', '/invoices', t.a.apiKey, {
      customerId: 'c',
      currency: 'USD',
      amountMinor: 1,
    });
    const list = await t.call('GET', '/invoices', t.a.readKey);
    expect((list.body.data as { id: string }[]).map((i) => i.id)).toEqual([other.body.id, id]);
    const open = await t.call('GET', '/invoices?status=open', t.a.readKey);
    expect((open.body.data as { id: string }[]).map((i) => i.id)).toEqual([other.body.id]);
    expect((await t.call('GET', '/invoices', t.b.apiKey)).body.data).toEqual([]);
    expect((await t.call('GET', `/invoices/${id}`, t.b.apiKey)).status).toBe(404);

    expect((await t.call('DELETE', `/invoices/${id}`, t.a.apiKey)).status).toBe(204);
    expect((await t.call('GET', `/invoices/${id}`, t.a.apiKey)).status).toBe(404);
    expect(await t.logged(id)).toEqual([
      { event_type: 'invoice.issued', resource_type: 'invoice', sequence: 1, in_outbox: true },
      { event_type: 'invoice.paid', resource_type: 'invoice', sequence: 2, in_outbox: true },
      { event_type: 'invoice.deleted', resource_type: 'invoice', sequence: 3, in_outbox: true },
    ]);
  });

  it("reads an invoice's history and its state as of a sequence or a time", async () => {
    const issued = await t.call('POST', '/invoices', t.a.apiKey, {
      customerId: 'cus_7',
      currency: 'EUR',
      amountMinor: 500,
    });
    const id = String(issued.body.id);
    const paid = await t.call('POST', `/invoices/${id}/pay`, t.a.apiKey);

    const history = await t.call('GET', `/invoices/${id}/history`, t.a.readKey);
    expect(history.status).toBe(200);
    expect(history.body.data as { eventType: string; sequence: number; data: unknown }[]).toMatchObject([
      { eventType: 'invoice.issued', sequence: 1, data: { invoiceId: id, amountMinor: 500 } },
      { eventType: 'invoice.paid', sequence: 2, data: { invoiceId: id, paidAt: paid.body.paidAt } },
    ]);
    expect((await t.call('GET', `/invoices/${id}?asOf=1`, t.a.readKey)).body).toEqual(issued.body);
    expect((await t.call('GET', `/invoices/${id}?asOf=2`, t.a.readKey)).body).toEqual(paid.body);
    const before = new Date(Date.parse(String(issued.body.createdAt)) - 1).toISOString();
    expect((await t.call('GET', `/invoices/${id}?asOf=${before}`, t.a.readKey)).status).toBe(404);
    expect((await t.call('GET', `/invoices/${id}/history`, t.b.apiKey)).status).toBe(404);
  });

  it('refuses a bad invoice with a 400 problem naming the field, and writes nothing', async () => {
    const before = await t.invoices();
    const bad = await t.call('POST', '/invoices', t.a.apiKey, {
      customerId: 'c',
      currency: 'eur',
      amountMinor: 0,
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect((bad.body.errors ?? []).map((e) => e.field).sort()).toEqual(['amountMinor', 'currency']);
    expect(await t.invoices()).toBe(before);
  });

  it('documents the invoice endpoints and rebuilds the invoices from the log with no difference', async () => {
    const doc = await t.call('GET', '/docs-json', undefined);
    expect(Object.keys(doc.body.paths as object)).toEqual(
      expect.arrayContaining(['/invoices', '/invoices/{id}', '/invoices/{id}/history', '/invoices/{id}/pay']),
    );
    const rebuild = t.inCopy(['tidings', '--', 'rebuild']);
    expect(rebuild.stderr).toMatch(/ \d+ invoices from \d+ events; 0 differences/);
    expect(rebuild.status).toBe(0);
  });
});
