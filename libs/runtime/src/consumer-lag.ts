import { Logger } from '@nestjs/common';
import type { ConsumerOptions, GroupOffset, KafkaClient } from '@tidings/kafka';
import { Gauge, type Registry } from 'prom-client';

type Watched = Pick<ConsumerOptions, 'groupId' | 'topics' | 'fromBeginning'>;

// A scrape waits at most this long for Kafka: Prometheus' default scrape timeout is 10 s, and a broker that
// does not answer in 3 s must not make /metrics (and the app's other series) time out with it.
const LAG_TIMEOUT_MS = 3_000;

/**
 * Records a partition has that the group has not consumed: end offset minus committed offset. A group that has
 * committed nothing on a partition yet is not behind on it when it starts at the end (`fromBeginning: false`:
 * it reads only what arrives after it joined, and commits the first of those); when it starts at the beginning,
 * everything is still to read.
 */
export function lagOf(offset: GroupOffset, fromBeginning: boolean): number {
  if (offset.committed === null) return fromBeginning ? Math.max(0, offset.end - offset.start) : 0;
  return Math.max(0, offset.end - offset.committed);
}

/**
 * `tidings_kafka_consumer_lag{group,topic,partition}`: the lag of every consumer group this app creates
 * through `kafka.createConsumer`, read from Kafka when /metrics is scraped (the groups' committed offsets
 * against the partitions' end offsets) — outside the consumer loops, so it reports a stalled or crashed loop
 * too. When Kafka does not answer in time, the scrape has no lag series (stale numbers would look healthy).
 * Returns `kafka`, whose consumers are now watched.
 */
export function watchConsumerLag<K extends KafkaClient>(registry: Registry, kafka: K): K {
  const watched = new Map<string, Watched>();
  const logger = new Logger('ConsumerLag');
  new Gauge({
    name: 'tidings_kafka_consumer_lag',
    help: 'Records of each partition the consumer group has not committed yet (end offset - committed offset)',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const group of watched.values()) {
        try {
          const offsets = await withTimeout(kafka.groupOffsets(group.groupId, group.topics), LAG_TIMEOUT_MS);
          for (const o of offsets)
            this.set(
              { group: group.groupId, topic: o.topic, partition: String(o.partition) },
              lagOf(o, group.fromBeginning),
            );
        } catch (error) {
          logger.debug({ group: group.groupId, err: error }, 'consumer lag not read');
        }
      }
    },
  });
  const create = kafka.createConsumer.bind(kafka);
  kafka.createConsumer = (options: ConsumerOptions) => {
    watched.set(options.groupId, options);
    return create(options);
  };
  return kafka;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Kafka in ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
