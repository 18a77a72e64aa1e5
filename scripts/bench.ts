/**
 * `npm run bench`: provisions Postgres and Kafka like `npm test` (or uses DATABASE_URL / KAFKA_BROKERS),
 * then runs each benchmark as its own process, one after the other, and prints their JSON results.
 * The numbers go into docs/benchmarks.md by hand, with the machine and what ran beside them.
 *   npm run bench [api|webhooks|relay|sse ...]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { provisionInfra } from './infra/provision';

const BENCHES: Record<string, string> = {
  api: 'bench-api.ts',
  webhooks: 'bench-webhooks.ts',
  relay: 'bench-relay.ts',
  sse: 'bench-sse.ts',
};

async function main(): Promise<void> {
  const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(BENCHES);
  const unknown = selected.filter((s) => !BENCHES[s]);
  if (unknown.length > 0)
    throw new Error(
      `unknown bench(es): ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`,
    );
  const infra = await provisionInfra({ purpose: 'test', log: (l) => process.stderr.write(`[infra] ${l}\n`) });
  try {
    for (const name of selected) {
      process.stderr.write(`\n=== ${name} ===\n`);
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
          stdio: 'inherit',
        },
      );
      if (run.status !== 0) process.stderr.write(`${name} failed (exit ${run.status})\n`);
    }
  } finally {
    await infra.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
