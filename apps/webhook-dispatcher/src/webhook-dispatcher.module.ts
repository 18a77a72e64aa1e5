import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
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
export class WebhookDispatcherModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly consumer: DeliveryTransport,
    private readonly worker: DeliveryWorker,
    private readonly outcomes: DeliveryOutcomes,
    private readonly deadLetters: DeadLetterPublisher,
    @Inject(KAFKA_TRANSPORTS) transports: TidingsKafkaServer[],
    @Inject(READINESS_CHECKS) readiness: ReadinessCheck[],
  ) {
    transports.push(consumer);
    // Ready = database (runtime) + a consumer in its group: without it no event becomes a delivery.
    readiness.push({ name: 'kafka', check: () => consumer.connected });
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

  /** The worker is running before the consumer feeds it: createApp connects the transport after this hook. */
  onApplicationBootstrap(): void {
    this.deadLetters.start();
    this.worker.start();
  }

  /**
   * Runs before the DataSource, Kafka client and HTTP agent are closed: stop taking work (Kafka and claims),
   * finish what is held (in-flight attempts are bounded by WEBHOOK_TIMEOUT_MS and get recorded), release.
   */
  async beforeApplicationShutdown(): Promise<void> {
    // The consumer first, here rather than where Nest would close it (after every shutdown hook, so after the
    // worker stopped): its last handler may still hand the worker a delivery, which the worker then sends
    // and records before it stops. Nest's own close later finds it closed.
    await this.consumer.close();
    await this.worker.stop();
    await this.outcomes.stop();
    await this.deadLetters.stop();
  }
}
