import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafka, type KafkaBroker } from '../../scripts/infra/kafka';
import { randomBytes } from 'node:crypto';
import { allEventTopics } from '@tidings/events';
import { allPlatformTopics, createTopicsAndWait } from '@tidings/kafka';
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

/**
 * The variables every in-process app of a cross-app test shares: its database, broker and topic prefix,
 * 3 partitions, a small pool and quiet logs. Each app adds its port and own settings.
 */
export function crossAppEnv(
  databaseUrl: string,
  prefix: string,
  brokers = kafkaBrokers(),
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DB_POOL_SIZE: '4',
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: '3',
    LOG_LEVEL: 'error',
  };
}

/** A topic prefix unique to the calling test file, so files never see each other's messages. */
export function testTopicPrefix(): string {
  return `t${randomBytes(4).toString('hex')}.`;
}

export async function ensureTestTopics(prefix: string, topics: string[], partitions = 6): Promise<void> {
  const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
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

/**
 * What a test file running the pipeline's apps needs: its own database and topic prefix (topics created,
 * 3 partitions) and the variables every app takes for them. `drop()` removes the database.
 */
export async function isolatedAppEnv(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, [...allEventTopics(prefix), ...allPlatformTopics(prefix)], 3);
  const env = {
    DATABASE_URL: db.url,
    DB_POOL_SIZE: '4',
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: '3',
    LOG_LEVEL: 'error',
  };
  return { env, drop: db.drop };
}
