/**
 * `npm run bench`: provisions Postgres and Kafka like `npm test` (or uses DATABASE_URL / KAFKA_BROKERS),
 * then runs each benchmark as its own process, one after the other, and prints their JSON results.
 * then one table of every scenario against its target, with the load average before each run and the commit.
 * The numbers go into docs/benchmarks.md by hand, with the machine and what ran beside them.
 *   npm run bench [api|webhooks|relay|sse|pipeline ...]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { provisionInfra } from './infra/provision';

const BENCHES: Record<string, string> = {
  api: 'bench-api.ts',
  webhooks: 'bench-webhooks.ts',
  relay: 'bench-relay.ts',
  sse: 'bench-sse.ts',
  pipeline: 'bench-pipeline.ts',
};

type Result = Record<string, unknown> & { bench: string };

/** One row of the summary: what was measured, against the target docs/benchmarks.md holds for it. */
function summarise(r: Result): { scenario: string; target: string; measured: string } {
  const cpu = (c: unknown) => {
    const per = c as Record<string, number> | undefined;
    return per ? `; CPU ${per.systemTotal} ms/event (${perProcess(per)})` : '';
  };
  const v = (key: string) => String(r[key] as string | number);
  const pct = (key: string, p: string) => String((r[key] as Record<string, number> | undefined)?.[p]);
  switch (r.bench) {
    case 'api POST /orders':
      return {
        scenario: `POST /orders, ${v('connections')} connections`,
        target: '≥ 2,500/s at p99 ≤ 25 ms',
        measured: `${v('perSecond')}/s, p50 ${v('p50ms')} / p99 ${v('p99ms')} / max ${v('maxMs')} ms, ${v('errors')} errors${cpu(r.cpuMsPerRequest)}`,
      };
    case 'relay':
      return {
        scenario: `relay drain of ${v('events')} events`,
        target: '≥ 20,000 events/s',
        measured: `${v('drainEventsPerSecond')} events/s; idle commit→ack p50 ${v('idleLatencyP50Ms')} / p99 ${v('idleLatencyP99Ms')} ms`,
      };
    case 'commit→webhook':
      return {
        scenario: `commit → webhook at ${v('rate')}/s, maxInFlight ${v('maxInFlight')}`,
        target: 'p50 ≤ 10 ms, p99 ≤ 50 ms at 1,000/s',
        measured: `p50 ${v('p50ms')} / p90 ${v('p90ms')} / p99 ${v('p99ms')} / max ${v('maxMs')} ms, ${v('delivered')}/${v('measured')} delivered${cpu(r.cpuSecondsPer1000Events)}`,
      };
    case 'sse':
      return {
        scenario: `SSE, ${v('connections')} idle connections`,
        target: '≤ 6 KiB each at 50,000; one commit to 10,000 clients ≤ 250 ms',
        measured: `${v('rssKiBPerConnection')} KiB RSS / ${v('heapKiBPerConnection')} KiB heap each; commit → each client p50 ${pct('commitToClientMs', 'p50')} / p99 ${pct('commitToClientMs', 'p99')} / max ${pct('commitToClientMs', 'max')} ms; gateway ${v('gatewayCpuMsPerEvent')} ms CPU per consumed event`,
      };
    case 'pipeline idle':
      return {
        scenario: 'pipeline, idle',
        target: 'its share of 1.5 ms CPU/event at 100/s',
        measured: `CPU ${(r.cpuMsPerSecond as Record<string, number>).systemTotal} ms per second (${perProcess(r.cpuMsPerSecond as Record<string, number>)})`,
      };
    case 'pipeline POST /messages → webhook':
      return {
        scenario: `pipeline, ${v('phase')}`,
        target: '≥ 1,000/s accepted and delivered; ≤ 1.5 ms CPU/event; p50 ≤ 10, p99 ≤ 50 ms at 300/s',
        measured: `accepted ${v('acceptedPerSecond')}/s (${v('accepted')}/${v('offered')}), delivered ${v('deliveredPerSecond')}/s; p50 ${v('p50ms')} / p90 ${v('p90ms')} / p99 ${v('p99ms')} / max ${v('maxMs')} ms${cpu(r.cpuSecondsPer1000Events)}`,
      };
    default:
      return { scenario: r.bench, target: '', measured: JSON.stringify(r) };
  }
}

/** CPU seconds per 1,000 events of each process = CPU milliseconds per event. */
function perProcess(per: Record<string, number>): string {
  return Object.entries(per)
    .filter(([k]) => k !== 'systemTotal' && k !== 'bench')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

async function main(): Promise<void> {
  const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(BENCHES);
  const unknown = selected.filter((s) => !BENCHES[s]);
  if (unknown.length > 0)
    throw new Error(
      `unknown bench(es): ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`,
    );
  // BENCH_PG_STATEMENTS=1: load pg_stat_statements, and the benches that support it print where Postgres spent its time.
  if (process.env.BENCH_PG_STATEMENTS && !process.env.DATABASE_URL)
    process.env.PG_SETTINGS = `${process.env.PG_SETTINGS ?? ''} shared_preload_libraries=pg_stat_statements`;
  const infra = await provisionInfra({ purpose: 'test', log: (l) => process.stderr.write(`[infra] ${l}\n`) });
  const rows: { load: number; result: Result }[] = [];
  try {
    for (const name of selected) {
      process.stderr.write(`\n=== ${name} ===\n`);
      const load = Number(loadavg()[0].toFixed(2));
      const run = spawnSync(
        process.execPath,
        [
          '--expose-gc',
          '-r',
          'ts-node/register/transpile-only',
          '-r',
          'tsconfig-paths/register',
          join(__dirname, BENCHES[name]),
        ],
        {
          cwd: join(__dirname, '..'),
          env: {
            ...process.env,
            DATABASE_URL: infra.databaseUrl,
            KAFKA_BROKERS: infra.kafkaBrokers.join(','),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      // Each bench prints its result lines (JSON with a `bench` field) on stdout, everything else on stderr.
      for (const line of run.stdout.toString().split('\n').filter(Boolean)) {
        process.stdout.write(`${line}\n`);
        try {
          const result = JSON.parse(line) as Result;
          if (typeof result.bench === 'string') rows.push({ load, result });
        } catch {
          // not a result line
        }
      }
      if (run.status !== 0) process.stderr.write(`${name} failed (exit ${run.status})\n`);
    }
    printSummary(rows);
  } finally {
    await infra.stop();
  }
}

function printSummary(rows: { load: number; result: Result }[]): void {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim()
    ? ' (uncommitted changes)'
    : '';
  const lines = rows.map(({ load, result }) => {
    const row = summarise(result);
    const phaseLoad = typeof result.loadAverageBefore === 'number' ? result.loadAverageBefore : load;
    return `| ${row.scenario} | ${row.target} | ${row.measured} | ${phaseLoad} |`;
  });
  process.stdout.write(
    [
      '',
      `commit ${commit}${dirty}, ${new Date().toISOString()}`,
      '',
      '| scenario | target | measured | load average before |',
      '| --- | --- | --- | --- |',
      ...lines,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
