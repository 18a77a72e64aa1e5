import type { INestApplication } from '@nestjs/common';
import { createDataSource } from '@tidings/db';
import { allEventTopics } from '@tidings/events';
import { allPlatformTopics } from '@tidings/kafka';
import { createApp } from '@tidings/runtime';
import type { OutboxRelayConfig } from '../../apps/outbox-relay/src/outbox-relay.config';
import { OutboxRelayModule } from '../../apps/outbox-relay/src/outbox-relay.module';
import type { SseGatewayConfig } from '../../apps/sse-gateway/src/sse-gateway.config';
import { SseGatewayModule } from '../../apps/sse-gateway/src/sse-gateway.module';
import type { WebhookDispatcherConfig } from '../../apps/webhook-dispatcher/src/webhook-dispatcher.config';
import { WebhookDispatcherModule } from '../../apps/webhook-dispatcher/src/webhook-dispatcher.module';
import { startApi, type TestApi } from './api-app';
import { createTestDatabase, crossAppEnv, ensureTestTopics, testTopicPrefix } from './infra';
import { WebhookReceiver } from './webhook-receiver';

/**
 * The event pipeline in-process for cross-app journeys: an isolated database and topic prefix (3 partitions),
 * a DataSource on it, a local webhook receiver, and starters for the apps (each takes extra variables over the
 * shared ones). teardown() closes the apps newest first, then the receiver and the database.
 */
export async function startPipeline() {
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, [...allEventTopics(prefix), ...allPlatformTopics(prefix)], 3);
  const ds = createDataSource(db.url, 3);
  await ds.initialize();
  const receiver = await WebhookReceiver.start();
  const common = crossAppEnv(db.url, prefix);
  const apps: INestApplication[] = [];
  const started = <T extends { app: INestApplication }>(app: T): T => {
    apps.push(app.app);
    return app;
  };
  return {
    ds,
    databaseUrl: db.url,
    prefix,
    receiver,
    startRelay: async (env: Record<string, string> = {}) =>
      started(
        await createApp<OutboxRelayConfig>(
          () => OutboxRelayModule.forRoot({ ...common, RELAY_PORT: '0', ...env }),
          { app: 'outbox-relay', port: (c) => c.RELAY_PORT },
        ),
      ),
    startDispatcher: async (env: Record<string, string> = {}) =>
      started(
        await createApp<WebhookDispatcherConfig>(
          () =>
            WebhookDispatcherModule.forRoot({
              ...common,
              DISPATCHER_PORT: '0',
              WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
              ...env,
            }),
          { app: 'webhook-dispatcher', port: (c) => c.DISPATCHER_PORT },
        ),
      ),
    startGateway: async (env: Record<string, string> = {}) =>
      started(
        await createApp<SseGatewayConfig>(
          () => SseGatewayModule.forRoot({ ...common, SSE_PORT: '0', ...env }),
          { app: 'sse-gateway', port: (c) => c.SSE_PORT },
        ),
      ),
    /** The api, accepting http://127.0.0.1 receivers (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOWED_HOSTS). */
    startApi: async (env: Record<string, string> = {}): Promise<TestApi> =>
      started(
        await startApi(db.url, {
          ...common,
          WEBHOOK_ALLOW_HTTP: 'true',
          WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
          ...env,
        }),
      ),
    teardown: async () => {
      for (const app of apps.reverse()) await app.close();
      await receiver.close();
      await ds.destroy();
      await db.drop();
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
