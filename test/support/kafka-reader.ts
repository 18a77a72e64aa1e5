import { randomUUID } from 'node:crypto';
import { fromKafkaMessage, type EventEnvelope } from '@tidings/events';
import type { IncomingMessage, KafkaClient } from '@tidings/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { eventually } from './eventually';

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  event: EventEnvelope;
}

/**
 * Reads every record of `topics` from the beginning with a throwaway consumer group until `predicate`
 * holds for what was read (or the timeout passes), then returns the records in arrival order.
 */
export async function readTopics(
  brokers: string[],
  topics: string[],
  predicate: (records: ReadRecord[]) => boolean,
  timeoutMs = 60_000,
): Promise<ReadRecord[]> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: 'test-reader' });
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        records.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? null,
          event: fromKafkaMessage(message),
        });
      },
    });
    await eventually(
      () => {
        if (!predicate(records)) throw new Error(`condition not met after reading ${records.length} records`);
      },
      { timeoutMs, intervalMs: 100 },
    );
    return [...records];
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Every record of `topic` from its beginning, as `read` maps it (its JSON value by default), collected as it
 * arrives until `stop()`: a consumer of the Kafka port in a group of its own, for journeys that check what an
 * app wrote to a dead-letter topic.
 */
export async function collectTopic<T = Record<string, unknown>>(
  kafka: KafkaClient,
  topic: string,
  read: (message: IncomingMessage) => T = (m) => JSON.parse(m.value!.toString()) as T,
): Promise<{ records: T[]; stop: () => Promise<void> }> {
  const records: T[] = [];
  const consumer = kafka.createConsumer({
    groupId: `${topic}-collector-${randomUUID()}`,
    topics: [topic],
    fromBeginning: true,
    // Never written: collecting a record cannot fail.
    deadLetterTopic: `${topic}-unused`,
    handle: (m) => {
      records.push(read(m));
      return Promise.resolve();
    },
  });
  await consumer.start();
  return { records, stop: () => consumer.stop() };
}
