// One-shot setup for deployments (docker compose's `migrate` service): migrations, then topics.
import { runMigrations } from '@tidings/db';
import { tidingsTopics } from '@tidings/kafka';
import { ensureTopics } from './infra/topics';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const brokers = process.env.KAFKA_BROKERS?.split(',');
  if (!url || !brokers) throw new Error('DATABASE_URL and KAFKA_BROKERS are required');
  await runMigrations(url);
  const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
  await ensureTopics(brokers, tidingsTopics(prefix), Number(process.env.KAFKA_PARTITIONS ?? 6));
  process.stdout.write('migrations applied, topics ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`setup failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
