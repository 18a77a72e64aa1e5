import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafka, type KafkaBroker } from '../../scripts/infra/kafka';
import { randomBytes } from 'node:crypto';
import { createTopicsAndWait } from '@tidings/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: is the int project's global setup running?`);
  return value;
}

/** A fresh database cloned from the migrated template; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = required('TIDINGS_TEST_PG_ADMIN_URL');
  const template = required('TIDINGS_TEST_TEMPLATE_DB');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  // CREATE DATABASE … TEMPLATE fails while another session copies the same template; retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
      break;
    } catch (error) {
      if (attempt > 50 || !String(error).includes('is being accessed by other users')) throw error;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function kafkaBrokers(): string[] {
  return required('KAFKA_BROKERS').split(',');
}

/** A topic prefix unique to the calling test file, so files never see each other's messages. */
export function testTopicPrefix(): string {
  return `t${randomBytes(4).toString('hex')}.`;
}

/** Creates `topics` (prefixed unless they are) on the shared broker, or on `brokers`. */
export async function ensureTestTopics(
  prefix: string,
  topics: string[],
  partitions = 6,
  brokers = kafkaBrokers(),
): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await createTopicsAndWait(
      admin,
      topics.map((t) => (t.startsWith(prefix) ? t : `${prefix}${t}`)),
      partitions,
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * A private single-node broker for tests that stop, kill or restart Kafka (the shared broker must stay up
 * for everyone else). stop()/kill() then start() keep its ports and data; dispose() stops it and deletes
 * its data dir: call it in afterAll.
 */
export async function startDedicatedKafka(): Promise<
  KafkaBroker & { dataDir: string; dispose(): Promise<void> }
> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-kafka-'));
  try {
    const broker = await startKafka({ dataDir });
    return {
      ...broker,
      dataDir,
      dispose: async () => {
        await broker.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
