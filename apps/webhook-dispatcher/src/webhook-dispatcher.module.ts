import { type DynamicModule, Inject, Module } from '@nestjs/common';
import type { TidingsKafkaServer } from '@tidings/kafka';
import { KAFKA_TRANSPORTS, READINESS_CHECKS, type ReadinessCheck, RuntimeModule } from '@tidings/runtime';
import { DeadLetterPublisher } from './deliveries/dead-letter.publisher';
import { DeliveryMetrics } from './deliveries/delivery-metrics.service';
import { DeliveryOutcomes } from './deliveries/delivery-outcome.service';
import { DeliveryRecorder } from './deliveries/delivery-recorder.service';
import { DeliverySender } from './deliveries/delivery-sender.service';
import { DeliveryConsumer, DeliveryTransport } from './deliveries/delivery.consumer';
import { DeliveryWorker } from './deliveries/delivery.worker';
import { dispatcherConfigSchema } from './webhook-dispatcher.config';

@Module({})
export class WebhookDispatcherModule {
  constructor(
    consumer: DeliveryTransport,
    worker: DeliveryWorker,
    outcomes: DeliveryOutcomes,
    deadLetters: DeadLetterPublisher,
    @Inject(KAFKA_TRANSPORTS) transports: TidingsKafkaServer[],
    @Inject(READINESS_CHECKS) readiness: ReadinessCheck[],
  ) {
    transports.push(consumer);
    // Ready = database (runtime) + a consumer in its group: without it no event becomes a delivery.
    readiness.push({ name: 'kafka', check: () => consumer.connected });
    // Each loop stops in its own shutdown hook, which Nest runs concurrently: each waits for the stage that may
    // still hand it work. So the consumer closes before the worker stops, not after every hook where Nest would
    // close it: its last handler may still hand the worker a delivery (Nest's later close waits for the same).
    worker.stops.after(() => consumer.close());
    outcomes.stops.after(() => worker.stops.run());
    deadLetters.stops.after(() => outcomes.stops.run());
  }

  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: WebhookDispatcherModule,
      imports: [RuntimeModule.forRoot({ app: 'webhook-dispatcher', schema: dispatcherConfigSchema, env })],
      controllers: [DeliveryConsumer],
      providers: [
        DeliveryMetrics,
        DeliveryRecorder,
        DeliveryTransport,
        DeliverySender,
        DeliveryOutcomes,
        DeliveryWorker,
        DeadLetterPublisher,
      ],
    };
  }
}
