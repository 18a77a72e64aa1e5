/**
 * The whole pipeline as a user drives it: `POST /messages` on the api → outbox relay → Kafka → webhook
 * dispatcher → one endpoint, each app its own process. Latency = the endpoint's receipt of the signed POST −
 * the moment the client sent the request, on one clock (the receiver runs in this process).
 *
 * Phases, one after the other on the same pipeline:
 *   - idle for BENCH_IDLE_MS (10 s) after the warm-up: the CPU milliseconds per second each process spends with
 *     nothing to do (polling, heartbeats), which every event at a low rate carries a share of;
 *   - open model at each of BENCH_RATES (default 100,300,1000) events/s for BENCH_DURATION_MS (20 s): requests
 *     are sent on schedule whether or not earlier ones answered, as independent clients would;
 *   - closed loop: BENCH_CONNECTIONS (32) clients each sending its next request when the previous answered,
 *     for the same duration: accepted and delivered per second at saturation.
 * Each phase reports p50/p90/p99/max, what was accepted and delivered, the load average before it, and the
 * CPU seconds per 1,000 events of every process (api, relay, dispatcher, Postgres, broker).
 */
import { loadavg } from 'node:os';
import { Agent, request } from 'undici';
import { CpuMeter, percentile, pgStatements, startPipeline } from './bench-support';

const RATES = (process.env.BENCH_RATES ?? '100,300,1000').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 20_000);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** How long a phase waits for its last deliveries before it counts the rest as not delivered. */
const DRAIN_MS = 30_000;

async function main(): Promise<void> {
  const pipeline = await startPipeline({
    eventTypes: ['message.*'],
    keyOf: (_headers, body) => (JSON.parse(body.toString()) as { resourceId: string }).resourceId,
    apiEnv: { DB_POOL_SIZE: '20', RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' },
  });
  const { api, tenant, received, cpu } = pipeline;
  const statements = await pgStatements(pipeline.db.url);
  const client = new Agent({ connections: 256, keepAliveTimeout: 30_000, headersTimeout: 30_000 });
  const headers = { authorization: `Bearer ${tenant.apiKey.key}`, 'content-type': 'application/json' };

  const sent = new Map<string, number>();
  let seq = 0;
  /** One message; resolves with its id once the api accepted it (201), else undefined. */
  const send = async (): Promise<string | undefined> => {
    const at = performance.timeOrigin + performance.now();
    const n = seq++;
    try {
      const res = await request(`${api.url}/messages`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ from: `user${n}@example.com`, channel: 'bench', body: `message ${n}` }),
        dispatcher: client,
      });
      const text = await res.body.text();
      if (res.statusCode !== 201) return undefined;
      const { id } = JSON.parse(text) as { id: string };
      sent.set(id, at);
      return id;
    } catch {
      return undefined; // timed out or refused: not accepted
    }
  };

  // The pipeline is ready (consumer group joined, connections open) once a probe comes through.
  for (const started = Date.now(); ;) {
    const id = await send();
    const until = Date.now() + 1_000;
    while (id && !received.has(id) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    if (id && received.has(id)) break;
    if (Date.now() - started > 120_000) throw new Error('no probe delivered within 120 s');
  }
  // Warm-up: 2 s at 100/s (JIT, pools, plans).
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => new Promise((r) => setTimeout(r, i * 10)).then(send)),
  );

  // Idle: what nothing costs, once the warm-up's deliveries are done.
  await new Promise((r) => setTimeout(r, 3_000));
  {
    const loadAverageBefore = Number(loadavg()[0].toFixed(2));
    const before = cpu.sample();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    // Per 1,000 events over IDLE_MS / 1,000 "events" = CPU milliseconds per second.
    const perSecond = CpuMeter.perThousand(before, cpu.sample(), IDLE_MS / 1000);
    process.stdout.write(
      `${JSON.stringify({ bench: 'pipeline idle', loadAverageBefore, seconds: IDLE_MS / 1000, cpuMsPerSecond: perSecond })}\n`,
    );
  }

  const results: Record<string, unknown>[] = [];
  const phase = async (name: string, drive: () => Promise<(string | undefined)[]>) => {
    const loadAverageBefore = Number(loadavg()[0].toFixed(2));
    const cpuBefore = cpu.sample();
    await statements?.reset();
    const started = performance.now();
    const ids = await drive();
    const seconds = (performance.now() - started) / 1000;
    const accepted = ids.filter((id): id is string => id !== undefined);
    const deadline = Date.now() + DRAIN_MS;
    while (accepted.some((id) => !received.has(id)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const drained = (performance.now() - started) / 1000;
    const cpuPer1000 = CpuMeter.perThousand(cpuBefore, cpu.sample(), Math.max(1, accepted.length));
    const latencies = accepted
      .filter((id) => received.has(id))
      .map((id) => received.get(id)! - sent.get(id)!)
      .sort((a, b) => a - b);
    const ms = (p: number) => Number(percentile(latencies, p).toFixed(1));
    const result = {
      bench: 'pipeline POST /messages → webhook',
      phase: name,
      loadAverageBefore,
      offered: ids.length,
      accepted: accepted.length,
      delivered: latencies.length,
      acceptedPerSecond: Math.round(accepted.length / seconds),
      deliveredPerSecond: Math.round(latencies.length / drained),
      p50ms: ms(50),
      p90ms: ms(90),
      p99ms: ms(99),
      maxMs: Number((latencies[latencies.length - 1] ?? NaN).toFixed(1)),
      cpuSecondsPer1000Events: cpuPer1000,
    };
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (statements) {
      const events = Math.max(1, accepted.length);
      process.stderr.write(
        `Postgres, ${name}: statements by execution time, per event:\n${JSON.stringify(await statements.top(events, 20))}\n` +
          `Postgres, ${name}: rows written per event by table:\n${JSON.stringify(await statements.tables(events))}\n`,
      );
    }
  };

  for (const rate of RATES)
    await phase(`${rate}/s open`, async () => {
      const total = Math.round((rate * DURATION_MS) / 1000);
      const started = performance.now();
      const pending: Promise<string | undefined>[] = [];
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        pending.push(send());
      }
      return Promise.all(pending);
    });
  await phase(`closed loop, ${CONNECTIONS} clients`, async () => {
    const end = Date.now() + DURATION_MS;
    const ids: (string | undefined)[] = [];
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) ids.push(await send());
      }),
    );
    return ids;
  });

  await client.close();
  await statements?.close();
  await pipeline.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
