import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { createDataSource, TenantEntity } from '@tidings/db';
import { ensureTopics } from '../scripts/infra/topics';
import { createTestDatabase, kafkaBrokers, startDedicatedKafka, testTopicPrefix } from './support/infra';

describe('provisioned infrastructure', () => {
  it('serves a Postgres whose template databases carry the migrated schema', async () => {
    const db = await createTestDatabase();
    const ds = createDataSource(db.url, 2);
    await ds.initialize();
    try {
      await ds.getRepository(TenantEntity).insert({ id: 'ten_plumbing', name: 'Plumbing' });
      const row = await ds.getRepository(TenantEntity).findOneByOrFail({ id: 'ten_plumbing' });
      expect(row.name).toBe('Plumbing');
      expect(row.createdAt).toBeInstanceOf(Date);
      // No drift: the schema the migrations built is exactly what the entities describe.
      expect((await ds.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await ds.destroy();
      await db.drop();
    }
    const admin = new Client({ connectionString: process.env.TIDINGS_TEST_PG_ADMIN_URL });
    await admin.connect();
    const gone = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      new URL(db.url).pathname.slice(1),
    ]);
    await admin.end();
    expect(gone.rowCount).toBe(0);
  });

  it('creates topics idempotently with the configured partition count', async () => {
    const topic = `${testTopicPrefix()}events.order`;
    await ensureTopics(kafkaBrokers(), [topic], 4);
    await ensureTopics(kafkaBrokers(), [topic], 4);
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(meta.topics[0].partitions).toHaveLength(4);
  });

  it('a dedicated broker survives a crash and a restart with its data', async () => {
    const broker = await startDedicatedKafka();
    try {
      await ensureTopics(broker.brokers, ['restart.me'], 1);
      const kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'restart.me', messages: [{ key: 'k', value: 'before-crash' }], acks: -1 });
      await producer.disconnect();
      await broker.kill();
      await broker.start();
      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets('restart.me');
      await admin.disconnect();
      expect(offsets[0].high).toBe('1');
    } finally {
      await broker.stop();
    }
  });
});
