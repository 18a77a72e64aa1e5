/**
 * API benchmark: POST /orders (each one a transaction with the order row, its event and its outbox row)
 * from 32 concurrent keep-alive connections for 20 s, against the api as its own process. Reports
 * throughput, latency percentiles and CPU milliseconds per request of the api, Postgres and the load generator
 * (the number to compare builds on when the machine is not quiet). Runs against DATABASE_URL / KAFKA_BROKERS.
 */
import { createDataSource } from '@tidings/db';
import { Agent, request } from 'undici';
import { createTenantWithKey } from '../apps/api/src/tenants/tenants.service';
import { benchDatabase, CpuMeter, percentile, startBenchApp } from './bench-support';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 20_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function main(): Promise<void> {
  const db = await benchDatabase();
  const ds = createDataSource(db.url, 2);
  await ds.initialize();
  const { apiKey } = await createTenantWithKey(ds, 'bench');
  await ds.destroy();
  const api = await startBenchApp('api', 'API_PORT', {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    DB_POOL_SIZE: '20',
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000',
  });
  const dispatcher = new Agent({ connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 30_000 });
  const body = JSON.stringify({
    customerId: 'cus_bench',
    currency: 'EUR',
    items: [{ sku: 'A', quantity: 2, unitPriceMinor: 1250 }],
  });
  const headers = { authorization: `Bearer ${apiKey.key}`, 'content-type': 'application/json' };
  const latencies: number[] = [];
  let errors = 0;
  const post = async () => {
    const started = performance.now();
    const res = await request(`${api.url}/orders`, { method: 'POST', body, headers, dispatcher });
    await res.body.dump();
    if (res.statusCode !== 201) errors++;
    return performance.now() - started;
  };
  for (let i = 0; i < 200; i++) await post(); // warm-up: JIT, pool, plans
  const cpu = new CpuMeter(
    { api },
    { databaseUrl: db.url, brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
  );
  const cpuBefore = cpu.sample();
  const end = Date.now() + DURATION_MS;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) latencies.push(await post());
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  const cpuPerRequest = CpuMeter.perThousand(cpuBefore, cpu.sample(), latencies.length);
  latencies.sort((a, b) => a - b);
  const result = {
    bench: 'api POST /orders',
    connections: CONNECTIONS,
    durationSeconds: Number(seconds.toFixed(1)),
    requests: latencies.length,
    errors,
    perSecond: Math.round(latencies.length / seconds),
    p50ms: Number(percentile(latencies, 50).toFixed(2)),
    p99ms: Number(percentile(latencies, 99).toFixed(2)),
    maxMs: Number(latencies[latencies.length - 1].toFixed(2)),
    cpuMsPerRequest: cpuPerRequest,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await dispatcher.close();
  await api.stop();
  await db.drop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
