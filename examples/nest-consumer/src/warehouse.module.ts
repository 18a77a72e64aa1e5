import {
  type DynamicModule,
  Inject,
  Injectable,
  type INestMicroservice,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { topicFor } from '@tidings/events';
import { type KafkaClient, KafkaJsClient, TidingsKafkaServer } from '@tidings/kafka';
import { Pool } from 'pg';
import { ShipmentsController } from './shipments.controller';
import { PG_POOL, ShipmentsService } from './shipments.service';

export interface WarehouseConfig {
  databaseUrl: string;
  kafkaBrokers: string[];
  /** Tidings' KAFKA_TOPIC_PREFIX, when the deployment sets one. */
  topicPrefix: string;
  /** The consumer group: one per service, so it reads every event whatever other services do. */
  groupId: string;
}

const KAFKA = Symbol('KAFKA');

/** Runs after the transport has closed (Nest closes the server first, then the shutdown hooks). */
@Injectable()
class KafkaShutdown implements OnApplicationShutdown {
  constructor(@Inject(KAFKA) private readonly kafka: KafkaClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.kafka.disconnect();
  }
}

@Module({})
export class WarehouseModule {
  static forRoot(config: WarehouseConfig, kafka: KafkaClient): DynamicModule {
    return {
      module: WarehouseModule,
      controllers: [ShipmentsController],
      providers: [
        { provide: PG_POOL, useFactory: () => new Pool({ connectionString: config.databaseUrl, max: 2 }) },
        { provide: KAFKA, useValue: kafka },
        KafkaShutdown,
        ShipmentsService,
      ],
    };
  }
}

/** The warehouse as a Nest microservice on the Tidings transport, consuming `events.order`. */
export async function startWarehouse(config: WarehouseConfig): Promise<INestMicroservice> {
  const kafka = new KafkaJsClient({ brokers: config.kafkaBrokers, clientId: config.groupId });
  const deadLetterTopic = `${config.groupId}.dead-letter`;
  const app = await NestFactory.createMicroservice(WarehouseModule.forRoot(config, kafka), {
    strategy: new TidingsKafkaServer({
      kafka,
      groupId: config.groupId,
      topics: [topicFor('order', config.topicPrefix)],
      // A new group reads the topic from its start: nothing published before the first deployment is skipped.
      fromBeginning: true,
      deadLetterTopic,
      prepare: () => kafka.ensureTopics([deadLetterTopic], 1),
    }),
  });
  await app.get(ShipmentsService).createTables();
  app.enableShutdownHooks();
  // Returns once the handlers are checked against the catalogue; the consumer connects in the background.
  await app.listen();
  return app;
}
