import { Inject, Injectable, Logger } from '@nestjs/common';
import { allEventTopics, EnvelopeDecodeError, fromKafkaMessage, kafkaTraceparent } from '@tidings/events';
import {
  allPlatformTopics,
  type Consumer,
  type IncomingMessage,
  type KafkaClient,
  platformTopics,
  PoisonMessageError,
} from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT } from '@tidings/runtime';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { type ConsumedEvent, DeliveryRecorder } from './delivery-recorder.service';

/**
 * Kafka → delivery rows. Consumer group `<prefix>webhook-dispatcher` over every event topic.
 *
 * Guarantees: a message's offset is committed only after its delivery rows are inserted (the handler resolves
 * after the INSERT), so a crash never loses a delivery; the rows are unique per (subscription, event), so a
 * redelivered message never doubles one (dedupe key: subscription id + event id). Undecodable messages and
 * unknown event types/versions go to the consumer dead-letter topic and are committed; any other error (the
 * database is down) retries the same message in place, keeping partition order. HTTP never happens here: a
 * slow endpoint cannot block a partition.
 *
 * Start: returns at once; the port connects (creating the topics first) and reconnects in the background,
 * with a capped backoff, so the dispatcher boots and stays up while the broker is away.
 * Shutdown: `stop()` stops fetching, lets the in-flight handler finish and commit, and leaves the group.
 */
@Injectable()
export class DeliveryConsumer {
  private readonly logger = new Logger(DeliveryConsumer.name);
  private consumer?: Consumer;

  constructor(
    @Inject(KAFKA_CLIENT) private readonly kafka: KafkaClient,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    private readonly recorder: DeliveryRecorder,
  ) {}

  async start(): Promise<void> {
    const prefix = this.config.KAFKA_TOPIC_PREFIX;
    const topics = allEventTopics(prefix);
    this.consumer = this.kafka.createConsumer({
      groupId: `${prefix}webhook-dispatcher`,
      topics,
      // A new group starts at the beginning: matching is bounded by subscription creation positions anyway,
      // and starting at the end would drop events published before the first dispatcher ever ran.
      fromBeginning: true,
      deadLetterTopic: platformTopics(prefix).consumerDeadLetter,
      // Offsets committed every 200 ms off the fetch path: a commit per batch held every fetch for a
      // round trip to the group coordinator. Recording is idempotent, so a crash only re-records (no-ops).
      commitIntervalMs: 200,
      // Every partition at once, up to half the connection pool (the rest serves the worker and outcomes).
      partitionsConsumedConcurrently: Math.max(
        1,
        Math.min(this.config.KAFKA_PARTITIONS, Math.floor(this.config.DB_POOL_SIZE / 2)),
      ),
      // Retried with every connection attempt: the dispatcher boots while the broker is down.
      prepare: () =>
        this.kafka.ensureTopics([...topics, ...allPlatformTopics(prefix)], this.config.KAFKA_PARTITIONS),
      handle: (message) => this.handle(message),
      // The usual path: a fetched run of a partition recorded in one statement. Anything undecodable in it
      // makes the port fall back to `handle`, message by message, which dead-letters just that one.
      handleBatch: (messages) =>
        this.recorder.recordBatch(messages.map((m) => this.decode(m, { quiet: true }))).then(() => {}),
    });
    await this.consumer.start();
  }

  /** A member of its group: fetching from Kafka (readiness). */
  get connected(): boolean {
    return this.consumer?.connected ?? false;
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
  }

  private async handle(message: IncomingMessage): Promise<void> {
    await this.recorder.record(this.decode(message));
  }

  /** `quiet`: in a batch, the fallback handles (and logs) the message again on its own. */
  private decode(message: IncomingMessage, { quiet = false } = {}): ConsumedEvent {
    try {
      return {
        envelope: fromKafkaMessage({ value: message.value, headers: message.headers }),
        traceparent: kafkaTraceparent(message),
      };
    } catch (error) {
      if (!(error instanceof EnvelopeDecodeError)) throw error;
      if (!quiet)
        this.logger.warn(`undecodable event at ${message.topic}/${message.partition}@${message.offset}`);
      throw new PoisonMessageError(error.message, error);
    }
  }
}
