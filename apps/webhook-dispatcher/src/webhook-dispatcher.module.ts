import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { READINESS_CHECKS, type ReadinessCheck, RuntimeModule } from '@tidings/runtime';
import { DeadLetterPublisher } from './deliveries/dead-letter.publisher';
import { DeliveryMetrics } from './deliveries/delivery-metrics.service';
import { DeliveryOutcomes } from './deliveries/delivery-outcome.service';
import { DeliveryRecorder } from './deliveries/delivery-recorder.service';
import { DeliverySender } from './deliveries/delivery-sender.service';
import { DeliveryConsumer } from './deliveries/delivery.consumer';
import { DeliveryWorker } from './deliveries/delivery.worker';
import { dispatcherConfigSchema } from './webhook-dispatcher.config';

@Module({})
export class WebhookDispatcherModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly consumer: DeliveryConsumer,
    private readonly worker: DeliveryWorker,
    private readonly outcomes: DeliveryOutcomes,
    private readonly deadLetters: DeadLetterPublisher,
    @Inject(READINESS_CHECKS) readiness: ReadinessCheck[],
  ) {
    // Ready = database (runtime) + a consumer in its group: without it no event becomes a delivery.
    readiness.push({ name: 'kafka', check: () => this.consumer.connected });
  }

  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: WebhookDispatcherModule,
      imports: [RuntimeModule.forRoot({ app: 'webhook-dispatcher', schema: dispatcherConfigSchema, env })],
      providers: [
        DeliveryMetrics,
        DeliveryRecorder,
        DeliveryConsumer,
        DeliverySender,
        DeliveryOutcomes,
        DeliveryWorker,
        DeadLetterPublisher,
      ],
    };
  }

  /** The worker starts before the consumer feeds it. */
  async onApplicationBootstrap(): Promise<void> {
    this.deadLetters.start();
    this.worker.start();
    await this.consumer.start();
  }

  /**
   * Runs before the DataSource, Kafka client and HTTP agent are closed: stop taking work (Kafka and claims),
   * finish what is held (in-flight attempts are bounded by WEBHOOK_TIMEOUT_MS and get recorded), release.
   */
  async beforeApplicationShutdown(): Promise<void> {
    // The consumer first: its last handler may still hand the worker a delivery to send.
    await this.consumer.stop();
    await this.worker.stop();
    await this.outcomes.stop();
    await this.deadLetters.stop();
  }
}
