import type { INestApplication } from '@nestjs/common';
import { createDataSource } from '@tidings/db';
import { tidingsTopics } from '@tidings/kafka';
import { createApp } from '@tidings/runtime';
import type { OutboxRelayConfig } from '../../apps/outbox-relay/src/outbox-relay.config';
import { OutboxRelayModule } from '../../apps/outbox-relay/src/outbox-relay.module';
import type { SseGatewayConfig } from '../../apps/sse-gateway/src/sse-gateway.config';
import { SseGatewayModule } from '../../apps/sse-gateway/src/sse-gateway.module';
import type { WebhookDispatcherConfig } from '../../apps/webhook-dispatcher/src/webhook-dispatcher.config';
import { WebhookDispatcherModule } from '../../apps/webhook-dispatcher/src/webhook-dispatcher.module';
import { freePort } from '../../scripts/infra/ports';
import { startApi, type TestApi } from './api-app';
import { type AppProcess, startAppProcess } from './app-process';
import { createTestDatabase, ensureTestTopics, kafkaBrokers, testTopicPrefix } from './infra';
import { WebhookReceiver } from './webhook-receiver';

export type PipelineApp = 'api' | 'outbox-relay' | 'webhook-dispatcher' | 'sse-gateway';

/**
 * Each app's port variable, and what every start of it adds in a test: the webhook receivers of tests listen on
 * http://127.0.0.1, which the egress policy refuses by default.
 */
const APPS: Record<PipelineApp, { portVar: string; env: Record<string, string> }> = {
  api: { portVar: 'API_PORT', env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } },
  'outbox-relay': { portVar: 'RELAY_PORT', env: {} },
  'webhook-dispatcher': { portVar: 'DISPATCHER_PORT', env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } },
  'sse-gateway': { portVar: 'SSE_PORT', env: {} },
};

export interface PipelineOptions {
  /** A dedicated broker's (startDedicatedKafka, for tests that stop it); the shared broker by default. */
  brokers?: string[];
  /** Of every topic, and the apps' KAFKA_PARTITIONS. */
  partitions?: number;
  /** Variables every app gets, over the shared ones (DB_POOL_SIZE, LOG_LEVEL, NODE_ENV, …). */
  env?: Record<string, string>;
  /** Connections of the test's own DataSource (`ds`). */
  poolSize?: number;
  /** Creates, under the test's prefix, topics with configs of their own, before the pipeline creates the rest. */
  createOwnTopics?: (prefix: string) => Promise<void>;
}

/**
 * The one way a test boots Tidings' apps: an isolated database and topic prefix (topics created), a DataSource
 * and a local webhook receiver, and the apps on them — in this process (`startApi`, `startRelay`,
 * `startDispatcher`, `startGateway`) or as real child processes (`spawn`, for SIGKILL or stdout), each start
 * taking variables over the shared `env`. teardown() kills the processes, closes the apps newest first, then
 * the receiver and the database.
 */
export async function startPipeline(options: PipelineOptions = {}) {
  const { brokers = kafkaBrokers(), partitions = 3, poolSize = 3 } = options;
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await options.createOwnTopics?.(prefix);
  await ensureTestTopics(prefix, tidingsTopics(prefix), partitions, brokers);
  const ds = createDataSource(db.url, poolSize);
  await ds.initialize();
  const receiver = await WebhookReceiver.start();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    DB_POOL_SIZE: '4',
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: String(partitions),
    LOG_LEVEL: 'error',
    ...options.env,
  };
  const envFor = (app: PipelineApp, extra: Record<string, string>) => ({
    ...env,
    [APPS[app].portVar]: '0',
    ...APPS[app].env,
    ...extra,
  });
  const apps: INestApplication[] = [];
  const processes: AppProcess[] = [];
  const started = <T extends { app: INestApplication }>(app: T): T => {
    apps.push(app.app);
    return app;
  };
  return {
    ds,
    databaseUrl: db.url,
    prefix,
    /** What every app shares: database, broker, prefix, partitions, pool size, log level. */
    env,
    receiver,
    startApi: async (extra: Record<string, string> = {}): Promise<TestApi> =>
      started(await startApi(db.url, envFor('api', extra))),
    startRelay: async (extra: Record<string, string> = {}) =>
      started(
        await createApp<OutboxRelayConfig>(() => OutboxRelayModule.forRoot(envFor('outbox-relay', extra)), {
          app: 'outbox-relay',
          port: (c) => c.RELAY_PORT,
        }),
      ),
    startDispatcher: async (extra: Record<string, string> = {}) =>
      started(
        await createApp<WebhookDispatcherConfig>(
          () => WebhookDispatcherModule.forRoot(envFor('webhook-dispatcher', extra)),
          { app: 'webhook-dispatcher', port: (c) => c.DISPATCHER_PORT },
        ),
      ),
    startGateway: async (extra: Record<string, string> = {}) =>
      started(
        await createApp<SseGatewayConfig>(() => SseGatewayModule.forRoot(envFor('sse-gateway', extra)), {
          app: 'sse-gateway',
          port: (c) => c.SSE_PORT,
        }),
      ),
    /** `app` as its own process (on a free port) with the same variables; teardown SIGKILLs it. */
    spawn: async (
      app: PipelineApp,
      extra: Record<string, string> = {},
      opts: { waitForLive?: boolean } = {},
    ): Promise<AppProcess> => {
      const port = await freePort();
      const child = await startAppProcess(
        app,
        { ...envFor(app, extra), [APPS[app].portVar]: String(port) },
        port,
        opts,
      );
      processes.push(child);
      return child;
    },
    /** Closes one in-process app before teardown (a restart, a graceful shutdown under test). */
    close: async (app: INestApplication) => {
      const i = apps.indexOf(app);
      if (i >= 0) apps.splice(i, 1);
      await app.close();
    },
    teardown: async () => {
      for (const child of processes) await child.kill('SIGKILL');
      for (const app of apps.reverse()) await app.close();
      await receiver.close();
      await ds.destroy();
      await db.drop();
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
