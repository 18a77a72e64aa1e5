import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDataSource, runMigrations } from '@tidings/db';
import { tidingsTopics } from '@tidings/kafka';
import { createTenantWithKey } from '../apps/api/src/tenants/tenants.service';
import { ensureTopics } from './infra/topics';
import { freePort } from './infra/ports';

const ROOT = join(__dirname, '..');

export interface BenchApp {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts one app as its own process (as in production), waits for /health/ready. */
export async function startBenchApp(
  app: string,
  portVar: string,
  env: Record<string, string>,
): Promise<BenchApp> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      // BENCH_PROFILE=<dir>: each app writes a V8 CPU profile there when it exits (open in Chrome DevTools).
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      `apps/${app}/src/main.ts`,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env, [portVar]: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${app} not ready`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A fresh, migrated database on the server of DATABASE_URL; drop() removes it. */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is required (npm run bench provisions one)');
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `/proc/<pid>/stat` after the command name: field 3 of stat(5) is index 0. */
function procStat(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  } catch {
    return undefined; // exited
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) a Linux process has used so far; with `reaped`, also what its exited children
 * used (Postgres backends that closed during a run are accounted to the postmaster that reaped them).
 */
export function cpuSeconds(pid: number, reaped = false): number {
  const f = procStat(pid);
  if (!f) return 0;
  const own = Number(f[11]) + Number(f[12]);
  return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / TICKS_PER_SECOND;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

const pids = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);

/** The postmaster listening on DATABASE_URL's port (a server this machine runs), else undefined. */
function postmasterPid(databaseUrl: string): number | undefined {
  const port = new URL(databaseUrl).port || '5432';
  return pids().find((pid) => {
    const args = cmdline(pid);
    return /(^|\/)postgres$/.test(args[0] ?? '') && args[args.indexOf('-p') + 1] === port;
  });
}

/** The local broker whose server.properties listens on the first of KAFKA_BROKERS, else undefined. */
export function brokerPid(brokers: string): number | undefined {
  const port = brokers.split(',')[0].split(':').pop();
  return pids().find((pid) => {
    const args = cmdline(pid);
    const props = args.find((a) => a.endsWith('server.properties'));
    if (!args.includes('kafka.Kafka') || !props) return false;
    try {
      return readFileSync(props, 'utf8').includes(`PLAINTEXT://127.0.0.1:${port},`);
    } catch {
      return false;
    }
  });
}

/**
 * CPU seconds per process group over a measured window: each app process, Postgres (the postmaster and every
 * backend, including those that exited), the broker, and the benchmark process itself. Groups whose process
 * is not on this machine (a remote DATABASE_URL) are left out.
 */
export class CpuMeter {
  private readonly groups: Record<string, () => number> = {};

  constructor(apps: Record<string, BenchApp>, env: { databaseUrl: string; brokers: string }) {
    for (const [name, app] of Object.entries(apps)) this.groups[name] = () => cpuSeconds(app.child.pid!);
    const postmaster = postmasterPid(env.databaseUrl);
    if (postmaster !== undefined)
      this.groups.postgres = () =>
        cpuSeconds(postmaster, true) +
        pids()
          .filter((pid) => procStat(pid)?.[1] === String(postmaster))
          .reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const broker = brokerPid(env.brokers);
    if (broker !== undefined) this.groups.broker = () => cpuSeconds(broker);
    this.groups.bench = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    };
  }

  sample(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.groups).map(([name, read]) => [name, read()]));
  }

  /** CPU seconds per 1,000 events between two samples, per group and in total (the benchmark's own excluded). */
  static perThousand(
    before: Record<string, number>,
    after: Record<string, number>,
    events: number,
  ): Record<string, number> {
    const per = Object.fromEntries(
      Object.keys(before).map((k) => [k, Number((((after[k] - before[k]) * 1000) / events).toFixed(3))]),
    );
    const total = Object.entries(per)
      .filter(([k]) => k !== 'bench')
      .reduce((sum, [, v]) => sum + v, 0);
    return { ...per, systemTotal: Number(total.toFixed(3)) };
  }
}

/** One statement's share of a window, per event. */
export interface StatementCost {
  query: string;
  callsPerEvent: number;
  msPerEvent: number;
  /** Planning, when pg_stat_statements.track_planning is on (PG_SETTINGS); 0 otherwise. */
  planMsPerEvent: number;
  rowsPerEvent: number;
  /** Shared buffers this statement dirtied, and the WAL it wrote, per event. */
  dirtiedPerEvent: number;
  walBytesPerEvent: number;
}

/** Writes to one table over a window, per event: inserts, updates and how many of those were HOT. */
export interface TableWrites {
  table: string;
  insPerEvent: number;
  updPerEvent: number;
  hotUpdPerEvent: number;
  delPerEvent: number;
}

/**
 * With BENCH_PG_STATEMENTS=1 (pg_stat_statements loaded by `npm run bench`): `reset()` at the start of a
 * window, `top()` at its end gives the statements that took the most execution time, per event, and
 * `tables()` the rows each table inserted and updated (HOT or not) since the reset. `close()` when done.
 */
export async function pgStatements(databaseUrl: string): Promise<
  | {
      reset(): Promise<void>;
      top(events: number, n?: number): Promise<StatementCost[]>;
      tables(events: number): Promise<TableWrites[]>;
      close(): Promise<void>;
    }
  | undefined
> {
  if (!process.env.BENCH_PG_STATEMENTS) return undefined;
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  type TableRow = { table: string; ins: string; upd: string; hot: string; del: string };
  const tableCounts = async () =>
    new Map(
      (
        await client.query<TableRow>(
          `SELECT relname AS table, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del
             FROM pg_stat_user_tables`,
        )
      ).rows.map((r) => [r.table, r]),
    );
  let tablesAtReset = new Map<string, TableRow>();
  const per = (value: number | string, events: number, digits = 3) =>
    Number((Number(value) / events).toFixed(digits));
  return {
    reset: async () => {
      await client.query('SELECT pg_stat_statements_reset()');
      tablesAtReset = await tableCounts();
    },
    top: async (events, n = 12) => {
      const { rows } = await client.query<{
        query: string;
        calls: string;
        ms: number;
        plan: number;
        rows: string;
        dirtied: string;
        wal: string;
      }>(
        `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, total_exec_time AS ms, total_plan_time AS plan, rows,
                shared_blks_dirtied AS dirtied, wal_bytes AS wal
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY total_exec_time DESC LIMIT $1`,
        [n],
      );
      return rows.map((r) => ({
        query: r.query.slice(0, 160),
        callsPerEvent: per(r.calls, events),
        msPerEvent: per(r.ms, events, 4),
        planMsPerEvent: per(r.plan, events, 4),
        rowsPerEvent: per(r.rows, events),
        dirtiedPerEvent: per(r.dirtied, events),
        walBytesPerEvent: per(r.wal, events, 0),
      }));
    },
    tables: async (events) => {
      // A busy backend flushes its table counters at most once a second: let the window's last ones arrive.
      await new Promise((r) => setTimeout(r, 1_500));
      const now = await tableCounts();
      return [...now.values()]
        .map((r) => {
          const b = tablesAtReset.get(r.table) ?? { ins: '0', upd: '0', hot: '0', del: '0' };
          return {
            table: r.table,
            insPerEvent: per(Number(r.ins) - Number(b.ins), events),
            updPerEvent: per(Number(r.upd) - Number(b.upd), events),
            hotUpdPerEvent: per(Number(r.hot) - Number(b.hot), events),
            delPerEvent: per(Number(r.del) - Number(b.del), events),
          };
        })
        .filter((t) => t.insPerEvent + t.updPerEvent + t.delPerEvent > 0)
        .sort((a, b) => b.insPerEvent + b.updPerEvent - (a.insPerEvent + a.updPerEvent));
    },
    close: () => client.end(),
  };
}

export interface BenchPipeline {
  db: { url: string };
  brokers: string[];
  tenant: Awaited<ReturnType<typeof createTenantWithKey>>;
  api: BenchApp;
  /** When each delivery first reached the endpoint, by the key the pipeline was started with. */
  received: Map<string, number>;
  cpu: CpuMeter;
  stop(): Promise<void>;
}

/**
 * api, outbox relay and webhook dispatcher as their own processes (default settings, plus `apiEnv`) on a fresh
 * database and topic prefix, one tenant, and one subscription to `eventTypes` whose endpoint runs in this
 * process and records the first arrival of each delivery under `keyOf(headers, body)`.
 */
export async function startPipeline(opts: {
  eventTypes: string[];
  keyOf: (headers: IncomingHttpHeaders, body: Buffer) => string;
  apiEnv?: Record<string, string>;
  /** The subscription's `maxInFlight` (default: none, the operator's default). */
  maxInFlight?: number;
}): Promise<BenchPipeline> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const db = await benchDatabase();
  const prefix = `bench${Date.now().toString(36)}.`;
  await ensureTopics(brokers, tidingsTopics(prefix), 6);
  const ds = createDataSource(db.url, 2);
  await ds.initialize();
  const tenant = await createTenantWithKey(ds, 'bench');
  await ds.destroy();

  const received = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const key = opts.keyOf(req.headers, Buffer.concat(chunks));
      if (!received.has(key)) received.set(key, at);
      res.end('ok');
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const env = { DATABASE_URL: db.url, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC_PREFIX: prefix };
  const api = await startBenchApp('api', 'API_PORT', {
    ...env,
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    ...opts.apiEnv,
  });
  const created = await fetch(`${api.url}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: hook, eventTypes: opts.eventTypes, maxInFlight: opts.maxInFlight }),
  });
  if (created.status !== 201) throw new Error(`subscription: ${created.status} ${await created.text()}`);
  const relay = await startBenchApp('outbox-relay', 'RELAY_PORT', env);
  const dispatcher = await startBenchApp('webhook-dispatcher', 'DISPATCHER_PORT', {
    ...env,
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  });
  return {
    db,
    brokers,
    tenant,
    api,
    received,
    cpu: new CpuMeter({ api, relay, dispatcher }, { databaseUrl: db.url, brokers: brokers.join(',') }),
    stop: async () => {
      await Promise.all([dispatcher.stop(), relay.stop(), api.stop()]);
      receiver.close();
      await db.drop();
    },
  };
}
