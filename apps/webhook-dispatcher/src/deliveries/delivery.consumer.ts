import { Controller, Inject, Injectable } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { type EventEnvelope, kafkaTraceparent } from '@tidings/events';
import {
  allEventsConsumer,
  type KafkaClient,
  TidingsEvent,
  type TidingsKafkaBatchContext,
  TidingsKafkaServer,
} from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT } from '@tidings/runtime';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { DeliveryRecorder } from './delivery-recorder.service';

/**
 * The dispatcher's Kafka consumer on the Tidings transport: group `<prefix>webhook-dispatcher` over every event
 * topic, creating the topics as it connects (retried: the dispatcher boots while the broker is down).
 * createApp connects it; the worker's shutdown closes it first (the module wires that).
 */
@Injectable()
export class DeliveryTransport extends TidingsKafkaServer {
  constructor(@Inject(KAFKA_CLIENT) kafka: KafkaClient, @Inject(APP_CONFIG) c: WebhookDispatcherConfig) {
    super({
      kafka,
      ...allEventsConsumer(kafka, c),
      groupId: `${c.KAFKA_TOPIC_PREFIX}webhook-dispatcher`,
      // A new group starts at the beginning: matching is bounded by subscription creation positions anyway,
      // and starting at the end would drop events published before the first dispatcher ever ran.
      fromBeginning: true,
      // Offsets committed every 200 ms off the fetch path: a commit per batch held every fetch for a
      // round trip to the group coordinator. Recording is idempotent, so a crash only re-records (no-ops).
      commitIntervalMs: 200,
      // Every partition at once, up to half the connection pool (the rest serves the worker and outcomes).
      partitionsConsumedConcurrently: Math.max(
        1,
        Math.min(c.KAFKA_PARTITIONS, Math.floor(c.DB_POOL_SIZE / 2)),
      ),
    });
  }
}

/**
 * Kafka → delivery rows.
 *
 * Guarantees: a record's offset is committed only after its delivery rows are inserted (the handler resolves
 * after the INSERT), so a crash never loses a delivery; the rows are unique per (subscription, event), so a
 * redelivered record never doubles one (dedupe key: subscription id + event id). Undecodable records and
 * unknown event types/versions go to the consumer dead-letter topic and are committed (the transport decides
 * that before any handler runs); any other error (the database is down) retries the same record in place,
 * keeping partition order. HTTP never happens here: a slow endpoint cannot block a partition.
 *
 * The usual path is a partition's fetched run recorded in one statement; a run that fails is handed back
 * record by record, which dead-letters just the poison one.
 *
 * Start: the transport returns at once and connects (creating the topics first) and reconnects in the
 * background, with a capped backoff, so the dispatcher boots and stays up while the broker is away.
 * Shutdown: closing the transport stops fetching, lets the in-flight handler finish and commit, and leaves
 * the group.
 */
@Controller()
export class DeliveryConsumer {
  constructor(private readonly recorder: DeliveryRecorder) {}

  @TidingsEvent('*', { batch: true })
  async record(@Payload() events: EventEnvelope[], @Ctx() ctx: TidingsKafkaBatchContext): Promise<void> {
    await this.recorder.recordBatch(
      events.map((envelope) => ({
        envelope,
        traceparent: kafkaTraceparent(ctx.messageOf(envelope.eventId)!),
      })),
    );
  }
}
