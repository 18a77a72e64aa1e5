import { createTopicsAndWait } from '@tidings/kafka';
import { Kafka, logLevel } from 'kafkajs';

/** Creates the topics that do not exist yet (existing ones are left alone) and waits for their leaders. */
export async function ensureTopics(brokers: string[], topics: string[], partitions = 6): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'tidings-provision', logLevel: logLevel.ERROR }).admin();
  await admin.connect();
  try {
    await createTopicsAndWait(admin, topics, partitions);
  } finally {
    await admin.disconnect();
  }
}
