import { startWarehouse } from './warehouse.module';

// A user's service: its configuration is its own (here plain environment variables, read once).
startWarehouse({
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/warehouse',
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  topicPrefix: process.env.KAFKA_TOPIC_PREFIX ?? '',
  groupId: process.env.WAREHOUSE_GROUP ?? 'warehouse',
}).then(
  () => console.log('warehouse consuming order events'),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
