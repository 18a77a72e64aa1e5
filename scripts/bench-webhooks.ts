/**
 * Commit→webhook latency at a steady 1,000 events/s: the api, outbox relay and webhook dispatcher run as
 * their own processes; this script commits order events at a fixed rate (each in its own transaction, as
 * the API does) and runs the receiving endpoint, so both ends of the measurement share one clock.
 * Latency = receipt of the signed POST − commit of the event's transaction.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDataSource, appendEvent, transaction } from '@tidings/db';
import { allEventTopics, buildEvent } from '@tidings/events';
import { allPlatformTopics } from '@tidings/kafka';
import { createTenantWithKey } from '../apps/api/src/tenants/tenants.service';
import { benchDatabase, percentile, startBenchApp } from './bench-support';
import { ensureTopics } from './infra/topics';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 15_000);

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const db = await benchDatabase();
  const prefix = `bench${Date.now().toString(36)}.`;
  await ensureTopics(brokers, [...allEventTopics(prefix), ...allPlatformTopics(prefix)], 6);
  const ds = createDataSource(db.url, 16);
  await ds.initialize();
  const tenant = await createTenantWithKey(ds, 'bench');

  const received = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const id = req.headers['webhook-id'] as string;
    req.resume();
    req.on('end', () => {
      if (!received.has(id)) received.set(id, performance.timeOrigin + performance.now());
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const env = { DATABASE_URL: db.url, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC_PREFIX: prefix };
  const api = await startBenchApp('api', 'API_PORT', {
    ...env,
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  });
  const created = await fetch(`${api.url}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: hook, eventTypes: ['order.*'] }),
  });
  if (created.status !== 201) throw new Error(`subscription: ${created.status} ${await created.text()}`);
  const relay = await startBenchApp('outbox-relay', 'RELAY_PORT', env);
  const dispatcher = await startBenchApp('webhook-dispatcher', 'DISPATCHER_PORT', {
    ...env,
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  });

  const committed = new Map<string, number>();
  const write = async (i: number) => {
    const orderId = `ord_bench${i}`;
    const event = buildEvent({
      eventType: 'order.updated',
      tenantId: tenant.tenantId,
      resourceId: orderId,
      sequence: 1,
      source: 'tidings/bench',
      data: { orderId, changes: { notes: `n${i}` } },
    });
    await transaction(ds, (tx) => appendEvent(tx, event));
    committed.set(event.eventId, performance.timeOrigin + performance.now());
  };
  // Warm-up at the target rate for 2 s, then measure.
  const total = Math.round((RATE * (DURATION_MS + 2_000)) / 1000);
  const warmup = Math.round(RATE * 2);
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(write(i));
  }
  await Promise.all(inflight);
  const deadline = Date.now() + 60_000;
  while (received.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const ids = [...committed.keys()].slice(warmup);
  const latencies = ids.filter((id) => received.has(id)).map((id) => received.get(id)! - committed.get(id)!);
  latencies.sort((a, b) => a - b);
  const result = {
    bench: 'commit→webhook',
    rate: RATE,
    measured: ids.length,
    delivered: latencies.length,
    p50ms: Number(percentile(latencies, 50).toFixed(1)),
    p90ms: Number(percentile(latencies, 90).toFixed(1)),
    p99ms: Number(percentile(latencies, 99).toFixed(1)),
    maxMs: Number((latencies[latencies.length - 1] ?? NaN).toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await Promise.all([dispatcher.stop(), relay.stop(), api.stop()]);
  receiver.close();
  await ds.destroy();
  await db.drop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
