/**
 * `npm run dev`: everything on one machine. Provisions Postgres and Kafka (scripts/infra/provision.ts),
 * migrates, creates topics, starts the four apps with prefixed logs, waits until each is ready, prints the
 * URLs and a dev API key. Ctrl-C (or SIGTERM) stops the apps, then Kafka and Postgres: nothing is left running.
 * A `.env` file in the working directory is loaded first when present; variables already set win.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tidingsTopics } from '@tidings/kafka';
import { runMigrations } from '@tidings/db';
import { provisionInfra, type Infra } from './infra/provision';
import { ensureTopics } from './infra/topics';

// Before anything reads the environment (the ports below).
const dotEnv = existsSync('.env');
if (dotEnv) process.loadEnvFile('.env');

interface AppSpec {
  name: string;
  dir: string;
  portVar: string;
  port: number;
  colour: number;
}

const APPS: AppSpec[] = [
  { name: 'api', dir: 'api', portVar: 'API_PORT', port: Number(process.env.API_PORT ?? 3000), colour: 36 },
  {
    name: 'sse',
    dir: 'sse-gateway',
    portVar: 'SSE_PORT',
    port: Number(process.env.SSE_PORT ?? 3001),
    colour: 35,
  },
  {
    name: 'relay',
    dir: 'outbox-relay',
    portVar: 'RELAY_PORT',
    port: Number(process.env.RELAY_PORT ?? 3002),
    colour: 33,
  },
  {
    name: 'dispatcher',
    dir: 'webhook-dispatcher',
    portVar: 'DISPATCHER_PORT',
    port: Number(process.env.DISPATCHER_PORT ?? 3003),
    colour: 32,
  },
];
const WIDTH = Math.max(...APPS.map((a) => a.name.length), 'infra'.length);
const tag = (name: string, colour: number) => `\x1b[${colour}m${`[${name}]`.padEnd(WIDTH + 2)}\x1b[0m`;
const say = (line: string) => process.stdout.write(`${tag('dev', 1)} ${line}\n`);

const children = new Map<string, ChildProcess>();
let infra: Infra | undefined;
let stopping = false;

function startApp(app: AppSpec, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', `apps/${app.dir}/src/main.ts`],
    { env: { ...env, [app.portVar]: String(app.port) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // The last lines are repeated if the app dies, so its reason is not lost among the other apps' logs.
  const recent: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      process.stdout.write(`${tag(app.name, app.colour)} ${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    children.delete(app.name);
    if (!stopping) {
      say(`${app.name} exited (${signal ?? code}); its last lines:`);
      for (const line of recent) say(`  ${line}`);
      say('stopping everything');
      void shutdown(1);
    }
  });
  children.set(app.name, child);
  return child;
}

async function waitReady(app: AppSpec, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!children.has(app.name)) throw new Error(`${app.name} exited during startup`);
    try {
      const res = await fetch(`http://127.0.0.1:${app.port}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${app.name} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  say('stopping apps…');
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  if (infra) {
    say('stopping Kafka and Postgres…');
    await infra.stop();
  }
  say('stopped');
  process.exit(code);
}

async function bootstrapDevKey(databaseUrl: string): Promise<string | undefined> {
  try {
    const { createDataSource } = await import('@tidings/db');
    const cli = await import('../apps/api/src/cli');
    const ds = createDataSource(databaseUrl, 1);
    await ds.initialize();
    try {
      const { tenantId, apiKey } = await cli.bootstrapDevTenant(ds);
      return `${apiKey}  (tenant ${tenantId})`;
    } finally {
      await ds.destroy();
    }
  } catch (error) {
    say(`could not create a dev API key: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  // Kafka and Postgres run in their own process groups: a terminal's Ctrl-C reaches only us and the apps,
  // and we stop the infrastructure after the apps have drained.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
  if (dotEnv) say('loaded .env (variables set in the environment take precedence)');
  infra = await provisionInfra({
    purpose: 'dev',
    log: (l) => process.stdout.write(`${tag('infra', 34)} ${l}\n`),
  });
  await runMigrations(infra.databaseUrl);
  say('migrations applied');
  const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
  await ensureTopics(infra.kafkaBrokers, tidingsTopics(prefix), Number(process.env.KAFKA_PARTITIONS ?? 6));
  say('topics ready');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: infra.databaseUrl,
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    // Local receivers (127.0.0.1) and plain http are allowed in dev only.
    WEBHOOK_ALLOWED_HOSTS: process.env.WEBHOOK_ALLOWED_HOSTS ?? '127.0.0.1,localhost',
    WEBHOOK_ALLOW_HTTP: process.env.WEBHOOK_ALLOW_HTTP ?? 'true',
    // The operator key for tenant administration in dev; the api requires at least 16 characters.
    ADMIN_API_KEY: process.env.ADMIN_API_KEY ?? 'tidings-dev-admin-key',
  };
  for (const app of APPS) startApp(app, env);
  await Promise.all(APPS.map((app) => waitReady(app)));
  const key = await bootstrapDevKey(infra.databaseUrl);
  say('all four apps are ready:');
  for (const app of APPS) say(`  ${app.name.padEnd(WIDTH)} http://127.0.0.1:${app.port}`);
  say(`  OpenAPI     http://127.0.0.1:${APPS[0].port}/docs`);
  say(`  SSE stream  http://127.0.0.1:${APPS[1].port}/events/stream?access_token=<key>`);
  say(`  Postgres    ${infra.databaseUrl}`);
  say(`  Kafka       ${infra.kafkaBrokers.join(',')}`);
  if (key) say(`  dev API key ${key}`);
  say(`  operator key ${env.ADMIN_API_KEY}  (POST /tenants)`);
  say('  webhook receivers on http://127.0.0.1 and http://localhost are allowed (dev only)');
  say('Ctrl-C stops everything.');
}

main().catch(async (error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
