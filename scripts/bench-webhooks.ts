/**
 * Commit→webhook latency at a steady 1,000 events/s: the api, outbox relay and webhook dispatcher run as
 * their own processes; this script commits order events at a fixed rate (each in its own transaction, as
 * the API does) and runs the receiving endpoint, so both ends of the measurement share one clock.
 * Latency = receipt of the signed POST − commit of the event's transaction.
 */
import { createDataSource, appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { loadavg } from 'node:os';
import { CpuMeter, percentile, pgStatements, startPipeline } from './bench-support';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 15_000);
// The subscription's own maxInFlight (up to WEBHOOK_MAX_IN_FLIGHT_LIMIT); unset: the operator's default.
const MAX_IN_FLIGHT = process.env.BENCH_MAX_IN_FLIGHT ? Number(process.env.BENCH_MAX_IN_FLIGHT) : undefined;

async function main(): Promise<void> {
  const pipeline = await startPipeline({
    eventTypes: ['order.*'],
    keyOf: (headers) => headers['webhook-id'] as string,
    maxInFlight: MAX_IN_FLIGHT,
  });
  const { db, tenant, received, cpu } = pipeline;
  const ds = createDataSource(db.url, 16);
  await ds.initialize();
  const statements = await pgStatements(db.url);
  const committed = new Map<string, number>();
  const commit = async (orderId: string, sequence: number) => {
    const event = buildEvent({
      eventType: 'order.updated',
      tenantId: tenant.tenantId,
      resourceId: orderId,
      sequence,
      source: 'tidings/bench',
      data: { orderId, changes: { notes: `n${sequence}` } },
    });
    await transaction(ds, (tx) => appendEvent(tx, event));
    return event.eventId;
  };
  // Each event is a new order (sequence 1) unless BENCH_RESOURCES bounds them: then events cycle over that many
  // orders, and each order's events must go out in sequence order (first attempts wait for earlier ones).
  const resources = Number(process.env.BENCH_RESOURCES ?? 0);
  const write = async (i: number) => {
    const orderId = resources > 0 ? `ord_bench${i % resources}` : `ord_bench${i}`;
    const sequence = resources > 0 ? Math.floor(i / resources) + 1 : 1;
    const eventId = await commit(orderId, sequence);
    committed.set(eventId, performance.timeOrigin + performance.now());
  };
  // The pipeline is ready (consumer group joined, connections open) once a probe event comes through.
  const ready = Date.now();
  for (let probe = 0; ; probe++) {
    const id = await commit(`ord_probe${probe}`, 1);
    const until = Date.now() + 1_000;
    while (!received.has(id) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    if (received.has(id)) break;
    if (Date.now() - ready > 120_000) throw new Error('no probe event delivered within 120 s');
  }
  process.stderr.write(`pipeline ready after ${Date.now() - ready} ms\n`);
  // Warm-up at the target rate for 2 s, then measure.
  const total = Math.round((RATE * (DURATION_MS + 2_000)) / 1000);
  const warmup = Math.round(RATE * 2);
  const loadBefore = Number(loadavg()[0].toFixed(2));
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  let cpuBefore: Record<string, number> = {};
  for (let i = 0; i < total; i++) {
    if (i === warmup) {
      cpuBefore = cpu.sample();
      void statements?.reset();
    }
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(write(i));
  }
  await Promise.all(inflight);
  const deadline = Date.now() + 60_000;
  const delivered = () => [...committed.keys()].filter((id) => received.has(id)).length;
  while (delivered() < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // CPU from the end of the warm-up until the last event is delivered, per 1,000 measured events.
  const cpuPerThousand = CpuMeter.perThousand(cpuBefore, cpu.sample(), total - warmup);
  const ids = [...committed.keys()].slice(warmup);
  // Where the time goes, per event: commit → Kafka ack (outbox.published_at), → delivery row inserted by the
  // dispatcher's consumer (created_at), → attempt started (attempted_at), → received by the endpoint.
  const stamps = await ds.query<
    { event_id: string; published: number; recorded: number; attempted: number }[]
  >(
    `SELECT e.event_id, extract(epoch FROM o.published_at) * 1000 AS published,
            extract(epoch FROM d.created_at) * 1000 AS recorded,
            extract(epoch FROM a.attempted_at) * 1000 AS attempted
     FROM event_log e JOIN outbox o ON o.event_log_id = e.id
     JOIN webhook_deliveries d ON d.event_id = e.event_id
     JOIN webhook_attempts a ON a.delivery_id = d.id AND a.attempt_number = 1
     WHERE e.event_id = ANY($1::uuid[])`,
    [ids],
  );
  const stage = (f: (s: (typeof stamps)[number]) => number) => {
    const values = stamps.map(f).sort((a, b) => a - b);
    return { p50: Number(percentile(values, 50).toFixed(1)), p99: Number(percentile(values, 99).toFixed(1)) };
  };
  const latencies = ids.filter((id) => received.has(id)).map((id) => received.get(id)! - committed.get(id)!);
  latencies.sort((a, b) => a - b);
  const result = {
    bench: 'commit→webhook',
    rate: RATE,
    maxInFlight: MAX_IN_FLIGHT ?? 'default',
    loadAverageBefore: loadBefore,
    resources: resources > 0 ? resources : 'one per event',
    measured: ids.length,
    delivered: latencies.length,
    p50ms: Number(percentile(latencies, 50).toFixed(1)),
    p90ms: Number(percentile(latencies, 90).toFixed(1)),
    p99ms: Number(percentile(latencies, 99).toFixed(1)),
    maxMs: Number((latencies[latencies.length - 1] ?? NaN).toFixed(1)),
    stagesMs: {
      commitToKafka: stage((s) => Number(s.published) - committed.get(s.event_id)!),
      kafkaToRecorded: stage((s) => Number(s.recorded) - Number(s.published)),
      recordedToAttempt: stage((s) => Number(s.attempted) - Number(s.recorded)),
      attemptToReceived: stage((s) => received.get(s.event_id)! - Number(s.attempted)),
    },
    cpuSecondsPer1000Events: cpuPerThousand,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (statements)
    process.stderr.write(
      `Postgres statements by execution time, per event:\n${JSON.stringify(await statements.top(total - warmup), null, 1)}\n`,
    );
  await statements?.close();
  await ds.destroy();
  await pipeline.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
