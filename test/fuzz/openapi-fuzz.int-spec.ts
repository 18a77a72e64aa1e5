import { createDataSource } from '@tidings/db';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { startApi, type TestApi } from '../support/api-app';
import { createTestDatabase } from '../support/infra';
import { tableSnapshotter } from '../support/table-snapshot';
import { createTenantWithKey } from '../../apps/api/src/tenants/tenants.service';

const ROOT = join(__dirname, '../..');
const ST = join(ROOT, '.tidings/fuzz-venv/bin/st');
// The fuzzer's working directory (its caches and Hypothesis' example database, which replays a failing case
// first on the next run) and the last run's report and requests, kept for reading after a failure.
const WORK = join(ROOT, '.tidings/fuzz');
const REPORT = join(WORK, 'report.txt');

// What a response must satisfy: no 5xx, a documented status, the documented content type, headers and body
// schema, and no 2xx for a request the document says is invalid; plus, from hooks.py, no row changed by a 4xx.
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  'refused_request_changes_nothing',
];
// The whole run's budget: schemathesis fuzzes until it is spent. A fixed seed makes the first cases of each
// operation the same on every run; the rest varies with how many fit in the budget.
const MAX_SECONDS = 40;
const SEED = 20261203;

/** The operations docs/openapi.json describes (its webhooks are requests we send, not operations to test). */
function operationCount(): number {
  const doc = JSON.parse(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  return Object.values(doc.paths).flatMap((item) => Object.keys(item).filter((k) => methods.includes(k)))
    .length;
}

interface Run {
  code: number | null;
  output: string;
}

function runSchemathesis(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    mkdirSync(WORK, { recursive: true });
    const child = spawn(ST, args, {
      cwd: WORK,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    // A hung run is ended: the budget plus time to shrink and report what failed.
    const timer = setTimeout(() => child.kill('SIGKILL'), (MAX_SECONDS + 90) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function setup() {
  const install = spawnSync('bash', [join(ROOT, 'test/fuzz/install.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (install.status !== 0) throw new Error(`test/fuzz/install.sh failed:\n${install.stderr}`);
  const db = await createTestDatabase();
  const ds = createDataSource(db.url, 2);
  await ds.initialize();
  const tenant = await createTenantWithKey(ds, 'fuzzed');
  // No http:// and no allowed hosts: every subscription the fuzzer manages to create names a public https
  // endpoint, and nothing here delivers to it (no dispatcher reads this database).
  const api = await startApi(db.url);
  // Something to find: list responses hand these ids to the fuzzer, which then reuses them on the routes of one.
  const key = tenant.apiKey.key;
  await api.call('POST', '/orders', key, {
    customerId: 'cus_1',
    currency: 'EUR',
    items: [{ sku: 'A', quantity: 1, unitPriceMinor: 100 }],
  });
  await api.call('POST', '/messages', key, { from: 'a@example.com', channel: 'support', body: 'hi' });
  await api.call('POST', '/webhooks', key, { url: 'https://receiver.example/hook', eventTypes: ['*'] });
  const snapshot = await tableSnapshotter(ds);
  const snapshots: Server = createServer((_req, res) => {
    snapshot().then(
      (tables) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(tables)),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => snapshots.listen(0, '127.0.0.1', resolve));
  const snapshotUrl = `http://127.0.0.1:${(snapshots.address() as AddressInfo).port}/`;
  return { db, ds, api, tenant, snapshots, snapshotUrl };
}

describe('fuzzing the api from docs/openapi.json (schemathesis)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;

  beforeAll(async () => {
    ctx = await setup();
    api = ctx.api;
  }, 400_000);

  afterAll(async () => {
    await api?.app.close();
    await new Promise((resolve) => ctx?.snapshots.close(resolve));
    await (ctx?.ds as DataSource | undefined)?.destroy();
    await ctx?.db.drop();
  });

  it('gets no 5xx, only documented statuses and bodies, and no row changed by a refused request', async () => {
    const run = await runSchemathesis(
      [
        'run',
        join(ROOT, 'docs/openapi.json'),
        '--url',
        api.url,
        '--header',
        `Authorization: Bearer ${ctx.tenant.apiKey.key}`,
        '--checks',
        CHECKS.join(','),
        '--phases',
        'examples,coverage,fuzzing',
        '--workers',
        '1',
        '--max-time',
        String(MAX_SECONDS),
        '--seed',
        String(SEED),
        '--request-timeout',
        '20',
        // Every request and response of the last run, for reading after a failure.
        '--report',
        'har',
        '--report-har-path',
        join(WORK, 'requests.har'),
      ],
      {
        PYTHONPATH: join(ROOT, 'test/fuzz'),
        SCHEMATHESIS_HOOKS: 'hooks',
        TIDINGS_FUZZ_SNAPSHOT_URL: ctx.snapshotUrl,
        TIDINGS_FUZZ_KEY_ID: ctx.tenant.apiKey.id,
      },
    );
    writeFileSync(REPORT, run.output);
    // The whole report on failure: every failing case with the curl command that reproduces it.
    if (run.code !== 0) throw new Error(`schemathesis exited with ${run.code}:\n${run.output}`);
    // The run must really have tested every operation (else "no failure" proves nothing), authenticated to the
    // end (a revoked key would have turned the rest into 401s).
    expect(run.output).toContain(`Tested: ${operationCount()}\n`);
    expect(run.output).toMatch(/\d+ generated, \d+ passed/);
    expect((await api.call('GET', '/api-keys', ctx.tenant.apiKey.key)).status).toBe(200);
  }, 300_000);
});
