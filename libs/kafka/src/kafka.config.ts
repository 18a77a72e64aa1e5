import { allEventTopics } from '@tidings/events';
import { z } from 'zod';
import type { ConsumerOptions, KafkaClient } from './kafka.port';

/** The variables libs/kafka reads; apps compose this fragment into their own config schema. */
export const kafkaConfigSchema = z.object({
  KAFKA_BROKERS: z
    .string({ error: 'KAFKA_BROKERS is required (comma-separated host:port, e.g. 127.0.0.1:9092)' })
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0 && list.every((b) => /^[^:\s]+:\d{1,5}$/.test(b)), {
      message: 'KAFKA_BROKERS must be comma-separated host:port pairs',
    }),
  // Tests give every file its own prefix; production leaves it empty.
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'KAFKA_TOPIC_PREFIX may hold letters, digits, . _ -')
    .default(''),
  // Six partitions: enough parallelism for a handful of consumers per group, cheap on one broker.
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
});

export type KafkaConfig = z.infer<typeof kafkaConfigSchema>;

/** Topics the platform uses besides `events.<resourceType>`. */
export function platformTopics(prefix = ''): { consumerDeadLetter: string; webhookDeadLetter: string } {
  return {
    // Poison Kafka messages (undecodable, unknown type/version) that a consumer could never handle.
    consumerDeadLetter: `${prefix}deadletter.events`,
    // Webhook deliveries that exhausted their retry schedule.
    webhookDeadLetter: `${prefix}webhooks.dead-letter`,
  };
}

export function allPlatformTopics(prefix = ''): string[] {
  return Object.values(platformTopics(prefix));
}

/**
 * Every topic Tidings produces to or consumes from: the event topics and the platform's. The one list that
 * provisioning (setup, dev, benchmarks, tests) and the apps' own topic creation at connect time use.
 */
export function tidingsTopics(prefix = ''): string[] {
  return [...allEventTopics(prefix), ...allPlatformTopics(prefix)];
}

/**
 * What a Tidings app consuming every event shares with the others: all event topics, the platform's consumer
 * dead-letter topic, and `tidingsTopics` created at each connection attempt (the app boots while the broker is
 * away and finds its topics once it is back). The group and its pace are the app's own.
 */
export function allEventsConsumer(
  kafka: KafkaClient,
  config: KafkaConfig,
): Pick<ConsumerOptions, 'topics' | 'deadLetterTopic' | 'prepare'> {
  const prefix = config.KAFKA_TOPIC_PREFIX;
  return {
    topics: allEventTopics(prefix),
    deadLetterTopic: platformTopics(prefix).consumerDeadLetter,
    prepare: () => kafka.ensureTopics(tidingsTopics(prefix), config.KAFKA_PARTITIONS),
  };
}
