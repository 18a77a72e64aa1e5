/**
 * Relay benchmark: drain rate on a 100,000-event backlog, idle commit→Kafka-ack latency, the Postgres cost of
 * idle polling, then the drain of a backlog spread over BENCH_TENANTS tenants (64) with 1, 2 and 4 relays
 * sharing the shards (BENCH_RELAYS, "1,2,4"), each drain with the CPU it cost per 1,000 events (relay processes
 * and the database's Postgres backends: robust where rates follow the machine's load), and the idle cost per
 * shard (64 shards against 8). Relays get this process's environment, so `RELAY_LANES=1 npm run bench relay`
 * measures one lane. Runs against DATABASE_URL / KAFKA_BROKERS (e.g. `source .dev-infra.env`), in a database and
 * topic prefix of its own that it drops afterwards.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register scripts/bench-relay.ts [events]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { OUTBOX_CHANNEL, runMigrations } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { tidingsTopics } from '@tidings/kafka';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { brokerPid, cpuSeconds } from './bench-support';
import { freePort } from './infra/ports';
import { ensureTopics } from './infra/topics';

/** The relay as a real process (as in production), so its CPU is measured apart from this script's. */
async function startRelay(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const root = join(__dirname, '..');
  const child = spawn(
    process.execPath,
    [
      // BENCH_PROFILE=<dir>: the relay writes a V8 CPU profile there when it exits (as bench-support's apps do).
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      'apps/outbox-relay/src/main.ts',
    ],
    {
      cwd: root,
      env: { ...process.env, ...env, RELAY_PORT: String(port), TS_NODE_PROJECT: join(root, 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    await sleep(100);
  }
}

/** Sum and count of each stage of tidings_relay_stage_duration_seconds, from the relay's /metrics. */
async function stageTimes(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const stages = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(
    /^tidings_relay_stage_duration_seconds_(sum|count)\{[^}]*stage="(\w+)"[^}]*\} (\S+)$/gm,
  )) {
    const entry = stages.get(m[2]) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    stages.set(m[2], entry);
  }
  return [...stages].map(([s, { sum, count }]) => `${s} ${sum.toFixed(2)} s / ${count}`).join(', ');
}

const EVENTS = Number(process.argv[2] ?? 100_000);
const RESOURCES = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Progress and detail go to stderr; the one JSON result line (as every bench prints) goes to stdout. */
const say = (line: string) => process.stderr.write(`${line}\n`);
const result: Record<string, unknown> = { bench: 'relay' };

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required (source .dev-infra.env)`);
  return v;
}

/** Inserts `count` order.updated events (event_log + outbox, as appendEvent does) in chunks. */
async function seedBacklog(
  db: Client,
  count: number,
  firstSequence: Map<string, number>,
  tenants = 1,
): Promise<void> {
  const chunk = 5_000;
  for (let done = 0; done < count; done += chunk) {
    const rows = Array.from({ length: Math.min(chunk, count - done) }, (_, i) => {
      const resourceId = `ord_bench_${(done + i) % RESOURCES}`;
      const sequence = (firstSequence.get(resourceId) ?? 0) + 1;
      firstSequence.set(resourceId, sequence);
      return buildEvent({
        eventType: 'order.updated',
        tenantId: tenants === 1 ? 'ten_bench' : `ten_bench${((done + i) % RESOURCES) % tenants}`,
        resourceId,
        sequence,
        source: 'tidings/bench',
        data: { orderId: resourceId, changes: { notes: `bench change ${sequence}` } },
      });
    });
    await db.query(
      `WITH e AS (
         INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence,
                                source, occurred_at, data)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[],
                              $8::text[], $9::timestamptz[], $10::jsonb[])
         RETURNING id, tenant_id)
       INSERT INTO outbox (event_log_id, tenant_id, shard) SELECT id, tenant_id, tidings_shard(tenant_id) FROM e ORDER BY id`,
      [
        rows.map((r) => r.eventId),
        rows.map((r) => r.tenantId),
        rows.map((r) => r.eventType),
        rows.map((r) => r.version),
        rows.map((r) => r.resourceType),
        rows.map((r) => r.resourceId),
        rows.map((r) => r.sequence),
        rows.map((r) => r.source),
        rows.map((r) => r.timestamp),
        rows.map((r) => JSON.stringify(r.data)),
      ],
    );
  }
}

/** Steady drain rate of the rows published since `since`: events / (last mark − first mark). */
async function steadyRate(db: Client, since: Date): Promise<{ rate: number; span: number; events: number }> {
  const { rows } = await db.query<{ span: number; first: number; n: number }>(
    `WITH o AS (SELECT published_at FROM outbox WHERE published_at >= $1)
     SELECT extract(epoch FROM max(published_at) - min(published_at))::float8 AS span,
            count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM o))::int AS first,
            count(*)::int AS n
       FROM o`,
    [since],
  );
  return { rate: (rows[0].n - rows[0].first) / rows[0].span, span: rows[0].span, events: rows[0].n };
}

/** CPU (% of a core) of each relay process and of the relays' sequencing backends over `ms` of idleness. */
async function idleCost(
  db: Client,
  name: string,
  relays: ChildProcess[],
  ms: number,
): Promise<{ relay: number; backend: number }> {
  const { rows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'tidings-relay-sequencer' AND datname = $1`,
    [name],
  );
  const sum = (pids: number[]) => pids.reduce((acc, pid) => acc + cpuSeconds(pid), 0);
  const relayPids = relays.map((r) => r.pid!);
  const backendPids = rows.map((r) => r.pid);
  const r0 = sum(relayPids);
  const b0 = sum(backendPids);
  await sleep(ms);
  return {
    relay: Number((((sum(relayPids) - r0) / (ms / 1000)) * 100).toFixed(1)),
    backend: Number((((sum(backendPids) - b0) / (ms / 1000)) * 100).toFixed(1)),
  };
}

/** The local broker's pid (when it runs on this machine): its CPU per event is part of the drain's cost. */
const BROKER = brokerPid(process.env.KAFKA_BROKERS ?? '');

/**
 * Cumulative CPU seconds of the relay processes, of every Postgres backend of database `name` and of the
 * broker (which serves the other engineers' work too when shared: read it on a quiet machine).
 */
async function drainCpu(
  db: Client,
  name: string,
  relays: ChildProcess[],
): Promise<{ relay: number; backends: Map<number, number>; broker: number }> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [name],
  );
  const backends = new Map<number, number>();
  for (const { pid } of rows) {
    const cpu = cpuSeconds(pid);
    if (Number.isFinite(cpu)) backends.set(pid, cpu);
  }
  return {
    relay: relays.reduce((acc, r) => acc + cpuSeconds(r.pid!), 0),
    backends,
    broker: BROKER === undefined ? NaN : cpuSeconds(BROKER),
  };
}

/** CPU milliseconds per event between two drainCpu samples (a backend new since `from` counts whole). */
function cpuPerEvent(
  from: Awaited<ReturnType<typeof drainCpu>>,
  to: Awaited<ReturnType<typeof drainCpu>>,
  events: number,
): { relayMs: number; postgresMs: number; brokerMs: number } {
  let backends = 0;
  for (const [pid, cpu] of to.backends) backends += cpu - (from.backends.get(pid) ?? 0);
  const ms = (seconds: number) => Number(((seconds * 1000) / events).toFixed(3));
  return {
    relayMs: ms(to.relay - from.relay),
    postgresMs: ms(backends),
    brokerMs: ms(to.broker - from.broker),
  };
}

async function stopRelays(relays: { child: ChildProcess }[]): Promise<void> {
  await Promise.all(
    relays.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function shardCount(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM relay_shards');
  return rows[0].n;
}

async function pending(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
  );
  return rows[0].n;
}

async function main(): Promise<void> {
  const adminUrl = env('DATABASE_URL');
  const brokers = env('KAFKA_BROKERS').split(',');
  const name = `bench_relay_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  const db = new Client({ connectionString: url.toString() });
  let relay: { child: ChildProcess; url: string } | undefined;
  try {
    await runMigrations(url.toString());
    await db.connect();
    await ensureTopics(brokers, tidingsTopics(prefix), 6);

    const sequences = new Map<string, number>();
    let t = Date.now();
    await seedBacklog(db, EVENTS, sequences);
    say(`seeded ${EVENTS} events over ${RESOURCES} resources in ${Date.now() - t} ms`);

    const loadBefore = loadavg()[0];
    t = Date.now();
    relay = await startRelay({ DATABASE_URL: url.toString(), KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' });
    const live = new Date();
    const cpu0 = await drainCpu(db, name, [relay.child]);
    while ((await pending(db)) > 0) await sleep(100);
    const wall = Date.now() - t;
    const cpu1 = await drainCpu(db, name, [relay.child]);
    const { rows: afterLive } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE published_at >= $1',
      [live],
    );
    const drainCost = cpuPerEvent(cpu0, cpu1, afterLive[0].n);
    const { rows } = await db.query<{ span: number; first: number }>(
      `SELECT extract(epoch FROM max(published_at) - min(published_at))::float8 AS span,
              count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM outbox))::int AS first
         FROM outbox`,
    );
    const steady = (EVENTS - rows[0].first) / rows[0].span;
    Object.assign(result, {
      events: EVENTS,
      batchSize: Number(process.env.RELAY_BATCH_SIZE ?? 2_000),
      drainEventsPerSecond: Math.round(steady),
      wallEventsPerSecondInclBoot: Math.round((EVENTS * 1000) / wall),
      drainCpuMsPerEvent: drainCost,
      lanes: process.env.RELAY_LANES ?? 'default',
      loadAverageAtStart: loadBefore,
    });
    say(
      `drain: ${EVENTS} events, steady ${Math.round(steady)} events/s ` +
        `(first mark → last mark ${rows[0].span.toFixed(2)} s); wall incl. boot ${wall} ms ` +
        `= ${Math.round((EVENTS * 1000) / wall)} events/s; CPU per event: relay ${drainCost.relayMs} ms, ` +
        `Postgres ${drainCost.postgresMs} ms, broker ${drainCost.brokerMs} ms; load ${loadavg()[0].toFixed(1)}`,
    );

    say(`time per stage while draining (stages of one round overlap): ${await stageTimes(relay.url)}`);

    // Idle latency: one event at a time, commit → published_at (set right after Kafka acknowledged it).
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const resourceId = 'ord_bench_latency';
      const sequence = (sequences.get(resourceId) ?? 0) + 1;
      sequences.set(resourceId, sequence);
      const e = buildEvent({
        eventType: 'order.updated',
        tenantId: 'ten_bench',
        resourceId,
        sequence,
        source: 'tidings/bench',
        data: { orderId: resourceId, changes: { notes: `latency ${i}` } },
      });
      await db.query(
        `WITH e AS (INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id,
                      sequence, source, occurred_at, data)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, tenant_id)
         INSERT INTO outbox (event_log_id, tenant_id, shard) SELECT id, tenant_id, tidings_shard(tenant_id) FROM e`,
        [
          e.eventId,
          e.tenantId,
          e.eventType,
          e.version,
          e.resourceType,
          e.resourceId,
          e.sequence,
          e.source,
          e.timestamp,
          JSON.stringify(e.data),
        ],
      );
      const committed = Date.now();
      // As every transaction() of @tidings/db does after a commit that appended events: wake the relays.
      await db.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
      for (;;) {
        const r = await db.query<{ at: Date | null }>(
          `SELECT o.published_at AS at FROM outbox o JOIN event_log l ON l.id = o.event_log_id
            WHERE l.event_id = $1`,
          [e.eventId],
        );
        if (r.rows[0]?.at) {
          latencies.push(r.rows[0].at.getTime() - committed);
          break;
        }
        await sleep(1);
      }
      await sleep(20);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    Object.assign(result, { idleLatencyP50Ms: pct(50), idleLatencyP99Ms: pct(99) });
    say(`idle commit→Kafka-ack latency over 200 events: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);

    // Idle polling cost over 10 s with no work: the relay process and its sequencing connections' backends (its
    // coordinator's probes and its lanes').
    const idle = await idleCost(db, name, [relay.child], 10_000);
    Object.assign(result, {
      idleRelayCpuPercent: idle.relay,
      idleBackendCpuPercent: idle.backend,
      cpus: cpus().length,
      loadAverage: loadavg()[0],
    });
    say(
      `idle polling for 10 s: relay process ${idle.relay}% of a core, its Postgres backends ${idle.backend}% of a core`,
    );
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT (SELECT id FROM outbox WHERE shard = 0 AND seq IS NULL ORDER BY shard, id LIMIT 1) IS NOT NULL`,
    );
    const stats = await db.query<{ dead: number; vacuumed: Date | null; autovacuumed: Date | null }>(
      `SELECT n_dead_tup AS dead, last_vacuum AS vacuumed, last_autovacuum AS autovacuumed
         FROM pg_stat_user_tables WHERE relname = 'outbox'`,
    );
    say(
      `idle probe of unpositioned rows: ${plan.rows
        .map((r) => r['QUERY PLAN'].trim())
        .filter((l) => /Buffers|Execution/.test(l))
        .join('; ')}; ` +
        `outbox dead tuples ${stats.rows[0]?.dead}, last vacuum ${stats.rows[0]?.vacuumed?.toISOString() ?? 'never'}, ` +
        `last autovacuum ${stats.rows[0]?.autovacuumed?.toISOString() ?? 'never'}`,
    );
    relay.child.kill('SIGTERM');
    await new Promise((r) => relay!.child.once('exit', r));
    relay = undefined;

    // Several relays on a backlog spread over many tenants (so over many shards).
    const tenants = Number(process.env.BENCH_TENANTS ?? 64);
    // BENCH_RELAYS= (empty): the single-tenant drain, latency and idle cost alone.
    const counts = (process.env.BENCH_RELAYS ?? '1,2,4').split(',').filter(Boolean).map(Number);
    const spread: Record<string, number> = {};
    const relayEnv = { DATABASE_URL: url.toString(), KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const spreadCpu: Record<string, unknown> = {};
    for (const n of counts) {
      await seedBacklog(db, EVENTS, sequences, tenants);
      const since = new Date();
      const started = await Promise.all(Array.from({ length: n }, () => startRelay(relayEnv)));
      // From the moment every relay is live (boot compiles TypeScript: not the drain's cost) to the end.
      const live = new Date();
      const cpu0 = await drainCpu(
        db,
        name,
        started.map((r) => r.child),
      );
      while ((await pending(db)) > 0) await sleep(100);
      const cpu1 = await drainCpu(
        db,
        name,
        started.map((r) => r.child),
      );
      const { rows: after } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE published_at >= $1',
        [live],
      );
      const { rate, span } = await steadyRate(db, since);
      const cost = cpuPerEvent(cpu0, cpu1, after[0].n);
      spread[`relays${n}`] = Math.round(rate);
      spreadCpu[`relays${n}`] = cost;
      say(
        `drain with ${n} relay(s), ${EVENTS} events of ${tenants} tenants over ${await shardCount(db)} shards: ` +
          `steady ${Math.round(rate)} events/s (${span.toFixed(2)} s), CPU per event: relays ${cost.relayMs} ms, ` +
          `Postgres ${cost.postgresMs} ms (over the ${after[0].n} published once all were live), ` +
          `load ${loadavg()[0].toFixed(1)}`,
      );
      await stopRelays(started);
    }
    Object.assign(result, {
      tenants,
      drainEventsPerSecondByRelays: spread,
      drainCpuMsPerEventByRelays: spreadCpu,
    });

    // What a shard costs an idle relay: one relay holding 64 shards, then 8.
    const perShard: Record<string, unknown> = {};
    for (const shards of counts.length > 0 ? [64, 8] : []) {
      await db.query('DELETE FROM relay_shards WHERE shard >= $1', [shards]);
      const one = await startRelay(relayEnv);
      await sleep(3_000);
      const cost = await idleCost(db, name, [one.child], 10_000);
      perShard[`shards${shards}`] = cost;
      say(
        `idle with ${shards} shards for 10 s: relay ${cost.relay}% of a core, its Postgres backend ` +
          `${cost.backend}%, load ${loadavg()[0].toFixed(1)}`,
      );
      await stopRelays([one]);
    }
    Object.assign(result, { idleCpuPercentByShards: perShard, loadAverageEnd: loadavg()[0] });
    say(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (relay) {
      relay.child.kill('SIGTERM');
      await new Promise((r) => relay!.child.once('exit', r));
    }
    await db.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
