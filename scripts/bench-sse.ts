/**
 * SSE gateway benchmark: memory per open connection. Starts the gateway as a real process (so its memory is
 * measured apart from the load generator's), opens N idle authenticated streams to it from this process, and
 * reports the gateway's RSS and V8 heap growth per connection, then one event fanned out to all of them.
 * Bounded in time (each phase has a deadline). Runs against DATABASE_URL / KAFKA_BROKERS (e.g.
 * `source .dev-infra.env`) in a database and topic prefix of its own that it drops afterwards.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register scripts/bench-sse.ts [connections]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  appendEvent,
  createDataSource,
  hashCredential,
  newCredential,
  runMigrations,
  transaction,
} from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { tidingsTopics } from '@tidings/kafka';
import { Client } from 'pg';
import { cpuSeconds } from './bench-support';
import { freePort } from './infra/ports';
import { ensureTopics } from './infra/topics';

const CONNECTIONS = Number(process.argv[2] ?? process.env.BENCH_SSE_CONNECTIONS ?? 10_000);
// Events of a second tenant with one stream, after the fan-out: the gateway's CPU per consumed event.
const EVENTS = Number(process.env.BENCH_SSE_EVENTS ?? 20_000);
const PHASE_TIMEOUT_MS = 120_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required (source .dev-infra.env)`);
  return v;
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// The gateway runs a full GC on SIGWINCH (a preload written to a temp file; Nest's shutdown hooks own SIGUSR2), so heap figures count live
// objects, not garbage awaiting collection.
const GC_PRELOAD = join(tmpdir(), `tidings-bench-gc-${process.pid}.js`);
writeFileSync(GC_PRELOAD, "process.on('SIGWINCH', () => globalThis.gc());\n");

function startApp(
  app: string,
  main: string,
  vars: Record<string, string>,
  portVar: string,
  port: number,
): ChildProcess {
  const root = join(__dirname, '..');
  const gc = app === 'sse-gateway' ? ['--expose-gc', '-r', GC_PRELOAD] : [];
  return spawn(
    process.execPath,
    [...gc, '-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', main],
    {
      cwd: root,
      env: { ...process.env, ...vars, [portVar]: String(port), TS_NODE_PROJECT: join(root, 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  ).on('exit', (code) => {
    if (code !== null && code !== 0) process.stderr.write(`${app} exited with ${code}\n`);
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

const FRAME_MARK = '\nevent: ';

/** What the clients received: event frames in all, and when each client got its first one. */
interface Received {
  frames: number;
  firstFrameAt: number[];
}

/**
 * Opens one raw SSE connection that reads and counts what it receives (a well-behaved client), from one of
 * the loopback addresses 127.0.0.1–127.0.0.8 in turn: one source address has only ~28,000 ephemeral ports.
 */
function openStream(port: number, apiKey: string, received: Received, n: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (n % 8)}` });
    let headers = false;
    let first = true;
    // The end of the previous chunk: a frame's `event:` line may straddle two chunks.
    let tail = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (!headers && chunk.startsWith('HTTP/1.1 200')) {
        headers = true;
        resolve(socket);
      } else if (!headers) reject(new Error(chunk.split('\r\n')[0]));
      const text = tail + chunk;
      tail = text.slice(-(FRAME_MARK.length - 1));
      const frames = text.split(FRAME_MARK).length - 1;
      if (frames > 0 && first) {
        first = false;
        received.firstFrameAt.push(performance.now());
      }
      received.frames += frames;
    });
    socket.on('error', reject);
    socket.write(
      `GET /events/stream?types=order.* HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${apiKey}\r\n\r\n`,
    );
  });
}

async function main(): Promise<void> {
  const adminUrl = env('DATABASE_URL');
  const brokers = env('KAFKA_BROKERS');
  const name = `bench_sse_${randomBytes(4).toString('hex')}`;
  const prefix = `${name}.`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const children: ChildProcess[] = [];
  const sockets: Socket[] = [];
  try {
    await runMigrations(url.toString());
    await ensureTopics(brokers.split(','), tidingsTopics(prefix), 6);
    const ds = createDataSource(url.toString(), 2);
    await ds.initialize();
    const key = newCredential('api_key');
    const quietKey = newCredential('api_key');
    await ds.query(`INSERT INTO tenants (id, name) VALUES ('ten_bench', 'bench'), ('ten_cpu', 'cpu')`);
    await ds.query(
      `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes) VALUES ($1, 'ten_bench', 'bench', $2, $3, '{read}'), ($4, 'ten_cpu', 'cpu', $5, $6, '{read}')`,
      [
        key.id,
        key.prefix,
        hashCredential(key.credential),
        quietKey.id,
        quietKey.prefix,
        hashCredential(quietKey.credential),
      ],
    );
    const common = {
      DATABASE_URL: url.toString(),
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    };
    const port = await freePort();
    const gateway = startApp(
      'sse-gateway',
      'apps/sse-gateway/src/main.ts',
      {
        ...common,
        SSE_MAX_CONNECTIONS_PER_IP: '1000000',
        SSE_MAX_CONNECTIONS_PER_TENANT: '1000000',
        // No heartbeat within a run: 10,000 keepalive writes every 15 s would fall inside some CPU windows
        // and not others, a cost of the connections, not of the events.
        SSE_HEARTBEAT_MS: '300000',
      },
      'SSE_PORT',
      port,
    );
    children.push(gateway);
    children.push(
      startApp('outbox-relay', 'apps/outbox-relay/src/main.ts', common, 'RELAY_PORT', await freePort()),
    );
    const gw = `http://127.0.0.1:${port}`;
    await until('gateway ready', () =>
      fetch(`${gw}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    );
    await sleep(2_000);
    gateway.kill('SIGWINCH');
    await sleep(1_000);
    const rss0 = rssBytes(gateway.pid!);
    const heap0 = await metric(gw, 'nodejs_heap_size_used_bytes');

    const received: Received = { frames: 0, firstFrameAt: [] };
    const started = Date.now();
    for (let opened = 0; opened < CONNECTIONS; opened += 200) {
      const batch = Math.min(200, CONNECTIONS - opened);
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: batch }, (_, i) => openStream(port, key.credential, received, opened + i)),
        )),
      );
    }
    const openMs = Date.now() - started;
    await until(
      'all connections counted',
      async () => (await metric(gw, 'tidings_sse_connections')) === CONNECTIONS,
    );
    await sleep(2_000);
    gateway.kill('SIGWINCH');
    await sleep(1_000);
    const rss1 = rssBytes(gateway.pid!);
    const heap1 = await metric(gw, 'nodejs_heap_size_used_bytes');

    const t0 = Date.now();
    const t0Perf = performance.now();
    await transaction(ds, (tx) =>
      appendEvent(
        tx,
        buildEvent({
          eventType: 'order.updated',
          tenantId: 'ten_bench',
          resourceId: 'ord_bench',
          sequence: 1,
          source: 'tidings/bench',
          data: { orderId: 'ord_bench', changes: { notes: 'bench' } },
        }),
      ),
    );
    await until('the event at every connection', () => received.frames >= CONNECTIONS);
    const fanoutMs = Date.now() - t0;
    const perClient = received.firstFrameAt.map((t) => t - t0Perf).sort((a, b) => a - b);
    const at = (p: number) =>
      Number(perClient[Math.min(perClient.length - 1, Math.floor((p / 100) * perClient.length))].toFixed(1));

    // CPU per consumed event: another tenant's events, to one stream of that tenant (the 10,000 streams are
    // not theirs), so the figure is the consumer path (decode, reorder, dispatch) plus one frame per event.
    const cpuReceived: Received = { frames: 0, firstFrameAt: [] };
    sockets.push(await openStream(port, quietKey.credential, cpuReceived, CONNECTIONS));
    const cpu0 = cpuSeconds(gateway.pid!);
    const cpuStarted = Date.now();
    for (let done = 0; done < EVENTS; done += 100)
      await transaction(ds, async (tx) => {
        for (let i = done; i < Math.min(EVENTS, done + 100); i++)
          await appendEvent(
            tx,
            buildEvent({
              eventType: 'order.updated',
              tenantId: 'ten_cpu',
              resourceId: `ord_cpu_${i}`,
              sequence: 1,
              source: 'tidings/bench',
              data: { orderId: `ord_cpu_${i}`, changes: { notes: 'cpu' } },
            }),
          );
      });
    await until(`${EVENTS} events at the cpu stream`, () => cpuReceived.frames >= EVENTS);
    const gatewayCpuMsPerEvent = Number((((cpuSeconds(gateway.pid!) - cpu0) * 1000) / EVENTS).toFixed(3));
    const cpuPhaseMs = Date.now() - cpuStarted;
    await ds.destroy();

    const kib = (n: number) => (n / 1024).toFixed(1);
    const say = (line: string) => process.stderr.write(`${line}\n`);
    say(`connections:            ${CONNECTIONS} (opened in ${(openMs / 1000).toFixed(1)} s)`);
    say(`gateway RSS:            ${kib(rss0)} KiB idle → ${kib(rss1)} KiB`);
    say(`RSS per connection:     ${kib((rss1 - rss0) / CONNECTIONS)} KiB`);
    say(`V8 heap per connection: ${kib((heap1 - heap0) / CONNECTIONS)} KiB (live objects, after a full GC)`);
    say(`commit → all ${CONNECTIONS} clients: ${fanoutMs} ms (relay + Kafka + fan-out)`);
    say(`commit → each client: p50 ${at(50)} / p99 ${at(99)} / max ${at(100)} ms`);
    say(`gateway CPU per event:  ${gatewayCpuMsPerEvent} ms (${EVENTS} events in ${cpuPhaseMs} ms)`);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'sse',
        connections: CONNECTIONS,
        rssKiBPerConnection: Number(kib((rss1 - rss0) / CONNECTIONS)),
        heapKiBPerConnection: Number(kib((heap1 - heap0) / CONNECTIONS)),
        commitToAllClientsMs: fanoutMs,
        commitToClientMs: { p50: at(50), p90: at(90), p99: at(99), max: at(100) },
        gatewayCpuMsPerEvent,
      })}\n`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    for (const c of children) c.kill('SIGTERM');
    await sleep(1_000);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench-sse failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
