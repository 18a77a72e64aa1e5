import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { dataSourceOptions, type DbConfig } from '@tidings/db';
import { KafkaJsClient, type KafkaClient, type KafkaConfig, type TidingsKafkaServer } from '@tidings/kafka';

import type { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import type { z } from 'zod';
import { watchConsumerLag } from './consumer-lag';
import { HealthController, READINESS_CHECKS, type ReadinessCheck } from './health.controller';
import { createAccessLog, createLogger, loggerModule } from './logging';
import {
  HttpMetrics,
  HttpMetricsMiddleware,
  METRICS_REGISTRY,
  MetricsController,
  createRegistry,
} from './metrics.controller';
import { ProblemFilter } from './problem.filter';
import { parseConfig, type RuntimeConfig } from './runtime.config';
import { startTracing } from './tracing';

export const APP_CONFIG = Symbol('APP_CONFIG');
export const KAFKA_CLIENT = Symbol('KAFKA_CLIENT');
/** The app's pino-http access log (`createAccessLog`): `createApp` mounts it, handlers outside Express call it. */
export const ACCESS_LOG = Symbol('ACCESS_LOG');
const TRACING = Symbol('TRACING');
/**
 * The app's Kafka consumers, as Nest transports: an app that consumes pushes its `TidingsKafkaServer` here
 * (`transports.push(…)`, like its readiness checks) and `createApp` connects and starts each one.
 */
export const KAFKA_TRANSPORTS = Symbol('KAFKA_TRANSPORTS');

export type BaseConfig = RuntimeConfig & DbConfig & KafkaConfig;

export interface RuntimeOptions<S extends z.ZodType<BaseConfig>> {
  /** Short app name: `api`, `outbox-relay`, `webhook-dispatcher`, `sse-gateway`. */
  app: string;
  /** The app's composed schema (runtime + db + kafka fragments + its own variables). */
  schema: S;
  /** Usually `process.env`; tests pass their own so several apps can run in one process. */
  env: Record<string, string | undefined>;
}

/** Flushes and releases the tracer provider this app started (none when tracing is off). */
@Injectable()
class TracingLifecycle implements OnApplicationShutdown {
  constructor(@Inject(TRACING) private readonly release: (() => Promise<void>) | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.release?.();
  }
}

@Injectable()
class KafkaLifecycle implements OnApplicationShutdown {
  constructor(@Inject(KAFKA_CLIENT) private readonly kafka: KafkaClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.kafka.disconnect();
  }
}

/**
 * What every Tidings app needs, wired once: typed config parsed at boot, the DataSource, the Kafka client,
 * /health/live + /health/ready (database; apps add their Kafka checks), /metrics, HTTP metrics and the problem+json filter.
 */
@Global()
@Module({})
export class RuntimeModule implements NestModule {
  static forRoot<S extends z.ZodType<BaseConfig>>(options: RuntimeOptions<S>): DynamicModule {
    const config = parseConfig(options.schema, options.env);
    const logger = createLogger(options.app, config);
    const kafkaLogger = new Logger('Kafka');
    return {
      module: RuntimeModule,
      imports: [
        loggerModule(logger),
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config.DATABASE_URL, config.DB_POOL_SIZE),
          retryAttempts: 3,
          retryDelay: 1_000,
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        {
          // Built first as the app starts (not in preview mode, e.g. for the OpenAPI document): the `start` line.
          provide: ACCESS_LOG,
          useFactory: () => {
            logger.info({ context: 'Lifecycle', lifecycle: 'start' }, `${options.app} starting`);
            return createAccessLog(logger);
          },
        },
        { provide: METRICS_REGISTRY, useValue: createRegistry(options.app) },
        {
          provide: KAFKA_CLIENT,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry) =>
            watchConsumerLag(
              registry,
              new KafkaJsClient({
                brokers: config.KAFKA_BROKERS,
                clientId: `tidings-${options.app}`,
                log: (level, message, fields) => {
                  if (level === 'error') kafkaLogger.error({ kafka: fields }, message);
                  else if (level === 'warn') kafkaLogger.warn({ kafka: fields }, message);
                  else kafkaLogger.log({ kafka: fields }, message);
                },
              }),
            ),
        },
        {
          // Every app's requests need the database. An app that needs Kafka adds its own check (its producer or
          // consumer connected) with `readinessChecks.push(…)`: the api never does, it writes to the outbox.
          provide: READINESS_CHECKS,
          inject: [DataSource],
          useFactory: (ds: DataSource): ReadinessCheck[] => [
            { name: 'database', check: async () => (await ds.query('SELECT 1')) !== undefined },
          ],
        },
        { provide: KAFKA_TRANSPORTS, useFactory: (): TidingsKafkaServer[] => [] },
        { provide: TRACING, useFactory: () => startTracing(config, options.app) },
        TracingLifecycle,
        KafkaLifecycle,
        HttpMetrics,
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
      exports: [
        HttpMetrics,
        ACCESS_LOG,
        APP_CONFIG,
        KAFKA_CLIENT,
        KAFKA_TRANSPORTS,
        METRICS_REGISTRY,
        READINESS_CHECKS,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*');
  }
}
