import { Controller, Inject, Injectable } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { allEventTopics, type EventEnvelope, kafkaTraceparent } from '@tidings/events';
import {
  allEventsConsumer,
  type KafkaClient,
  TidingsEvent,
  type TidingsKafkaBatchContext,
  TidingsKafkaServer,
} from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT } from '@tidings/runtime';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SseGatewayConfig } from '../sse-gateway.config';
import { FanoutWorker } from './fanout.worker';

/**
 * The gateway's Kafka consumer on the Tidings transport, over every event topic, creating the topics as it
 * connects (retried: the gateway boots and serves replay while the broker is down). createApp connects it,
 * Nest closes it.
 */
@Injectable()
export class FanoutTransport extends TidingsKafkaServer {
  constructor(@Inject(KAFKA_CLIENT) kafka: KafkaClient, @Inject(APP_CONFIG) c: SseGatewayConfig) {
    super({
      kafka,
      ...allEventsConsumer(kafka, c),
      // A group of its own per instance: every gateway must see every partition; offsets do not matter
      // because a restarted gateway starts at the log's head and clients replay from the log.
      groupId: `sse-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
      fromBeginning: false,
      partitionsConsumedConcurrently: allEventTopics().length * c.KAFKA_PARTITIONS,
    });
  }
}

/**
 * Kafka → the fan-out's reorder buffers (FanoutWorker states the ordering and dedupe guarantees). A record
 * that is not a valid Tidings event is dead-lettered by the transport before reaching here (its run is handed
 * again record by record). A partition's fetched run comes in one call, in offset order: one pass through Nest
 * per run, not per event.
 */
@Controller()
export class FanoutConsumer {
  constructor(private readonly fanout: FanoutWorker) {}

  @TidingsEvent('*', { batch: true })
  accept(@Payload() events: EventEnvelope[], @Ctx() ctx: TidingsKafkaBatchContext): void {
    for (const event of events) this.fanout.accept(event, kafkaTraceparent(ctx.messageOf(event.eventId)!));
  }
}
