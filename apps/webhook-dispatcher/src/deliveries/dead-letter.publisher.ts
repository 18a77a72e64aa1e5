import { Inject, Injectable, Logger } from '@nestjs/common';
import { type KafkaClient, platformTopics, type Producer } from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT, OrderedStop, WakeUp } from '@tidings/runtime';
import { markDeadLettersPublished, unpublishedDeadLetters } from '@tidings/webhooks';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { DeliveryMetrics } from './delivery-metrics.service';

// 500 records per send: a mass disable drains in a few round trips, each well under the broker's request limit.
const BATCH = 500;
// Idle poll: dead letters written by another replica or by the api (none today) are picked up within 1 s.
const POLL_MS = 1_000;
// Broker unreachable: retry from 1 s, doubling to 30 s.
const BACKOFF_MAX_MS = 30_000;

/**
 * Dead letters → the dead-letter topic (`<prefix>webhooks.dead-letter`, key = subscription id). The deliveries
 * table is this topic's outbox: a delivery becomes dead and "to publish" (dlq_published_at IS NULL) in the
 * transaction that decided it, and this loop publishes outside any transaction, then marks what was sent —
 * so a broker outage never holds a database transaction, a connection or a subscription's row lock.
 *
 * At least once, in dead_at order; dedupe key: deliveryId. A crash between send and mark, or two replicas
 * reading the same rows, publish a record twice. A delivery replayed and dead again is published again.
 *
 * Shutdown: once the outcomes (which write dead letters) stopped, stop polling, finish the send in flight,
 * release the producer.
 */
@Injectable()
export class DeadLetterPublisher {
  private readonly logger = new Logger(DeadLetterPublisher.name);
  private producer?: Producer;
  private running = false;
  private loop?: Promise<void>;
  /** After the outcomes, which write dead letters (the module wires it). */
  readonly stops = new OrderedStop(() => this.halt());
  private readonly wakeUp = new WakeUp();

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    @Inject(KAFKA_CLIENT) private readonly kafka: KafkaClient,
    private readonly metrics: DeliveryMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.stops.run();
  }

  private async halt(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }

  /** Dead letters were just written: publish now rather than at the next poll. */
  poke(): void {
    this.wakeUp.poke();
  }

  private async run(): Promise<void> {
    let backoff = POLL_MS;
    while (this.running) {
      try {
        const sent = await this.publishBatch();
        backoff = POLL_MS;
        if (sent === BATCH) continue;
        await this.sleep(POLL_MS);
      } catch (error) {
        this.logger.warn(
          `dead letters not published, retrying in ${backoff} ms: ${error instanceof Error ? error.message : String(error)}`,
        );
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async publishBatch(): Promise<number> {
    const records = await unpublishedDeadLetters(this.ds, BATCH);
    if (records.length === 0) return 0;
    this.producer ??= await this.kafka.createProducer();
    const topic = platformTopics(this.config.KAFKA_TOPIC_PREFIX).webhookDeadLetter;
    await this.producer.send(
      records.map((r) => ({
        topic,
        key: r.subscriptionId,
        value: JSON.stringify(r),
        headers: { 'delivery-id': r.deliveryId, 'event-id': r.eventId, 'tenant-id': r.tenantId },
      })),
    );
    await markDeadLettersPublished(
      this.ds,
      records.map((r) => r.deliveryId),
    );
    this.metrics.deadLettersPublished.inc(records.length);
    return records.length;
  }

  private sleep(ms: number): Promise<void> {
    return this.running ? this.wakeUp.sleep(ms) : Promise.resolve();
  }
}
