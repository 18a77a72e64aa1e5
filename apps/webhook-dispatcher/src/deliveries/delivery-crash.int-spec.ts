import type { NestExpressApplication } from '@nestjs/platform-express';
import { appendEvent, createDataSource, transaction } from '@tidings/db';
import { allEventTopics, buildEvent } from '@tidings/events';
import { allPlatformTopics, KafkaJsClient } from '@tidings/kafka';
import { createApp } from '@tidings/runtime';
import { generateSecret } from '@tidings/signing';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { WebhookDispatcherModule } from '../webhook-dispatcher.module';
import { type AppProcess, startAppProcess } from '../../../../test/support/app-process';
import { eventually } from '../../../../test/support/eventually';
import {
  createTestDatabase,
  ensureTestTopics,
  kafkaBrokers,
  testTopicPrefix,
} from '../../../../test/support/infra';
import { TestPublisher } from '../../../../test/support/test-publisher';
import { WebhookReceiver } from '../../../../test/support/webhook-receiver';
import { freePort } from '../../../../scripts/infra/ports';

/**
 * A dispatcher process SIGKILLed while its requests are in flight loses nothing: the deliveries were recorded
 * before the Kafka offsets were committed, and their leases expire so a second dispatcher sends them again.
 */

const ctx: {
  ds?: DataSource;
  receiver?: WebhookReceiver;
  publisher?: TestPublisher;
  kafka?: KafkaJsClient;
  child?: AppProcess;
  survivor?: NestExpressApplication;
  drop?: () => Promise<void>;
} = {};
let env: Record<string, string>;

beforeAll(async () => {
  const db = await createTestDatabase();
  ctx.drop = db.drop;
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, [...allEventTopics(prefix), ...allPlatformTopics(prefix)], 3);
  ctx.ds = createDataSource(db.url, 3);
  await ctx.ds.initialize();
  ctx.kafka = new KafkaJsClient({ brokers: kafkaBrokers(), clientId: 'webhook-crash-int-spec' });
  ctx.publisher = new TestPublisher(ctx.ds, ctx.kafka, prefix);
  await ctx.publisher.start();
  ctx.receiver = await WebhookReceiver.start();
  env = {
    DATABASE_URL: db.url,
    DB_POOL_SIZE: '4',
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: '3',
    LOG_LEVEL: 'error',
    DISPATCHER_PORT: '0',
    WEBHOOK_RETRY_SCHEDULE: '50ms,100ms,150ms',
    WEBHOOK_RETRY_JITTER: '0',
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_LEASE_MARGIN_MS: '500',
    WEBHOOK_POLL_MAX_MS: '50',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    // Timeouts of the killed process must not disable the endpoint: this test is about loss, not health.
    WEBHOOK_FAILING_WARNING_AT: '40',
    WEBHOOK_DISABLE_AFTER_DEAD_LETTERS: '50',
  };
});

afterAll(async () => {
  await ctx.child?.kill('SIGKILL');
  await ctx.survivor?.close();
  await ctx.publisher?.stop();
  await ctx.receiver?.close();
  await ctx.kafka?.disconnect();
  await ctx.ds?.destroy();
  await ctx.drop?.();
});

/** A subscription as the API writes it: row + `webhook.subscription.created`, one transaction. */
async function subscribe(ds: DataSource, receiver: WebhookReceiver, tenantId: string, path: string) {
  const subscriptionId = `whk_${randomUUID()}`;
  const secret = generateSecret();
  receiver.expectSecrets(path, secret);
  await transaction(ds, async (tx) => {
    await tx.query(
      `INSERT INTO webhook_subscriptions (id, tenant_id, url, event_types, metadata, version_pins, status, secrets,
                                          version)
       VALUES ($1, $2, $3, '{order.*}', '{}', '{}', 'active', $4, 1)`,
      [subscriptionId, tenantId, receiver.url(path), JSON.stringify([{ secret, expiresAt: null }])],
    );
    await appendEvent(
      tx,
      buildEvent({
        eventType: 'webhook.subscription.created',
        tenantId,
        resourceId: subscriptionId,
        sequence: 1,
        source: 'tidings/api',
        data: {
          subscriptionId,
          url: receiver.url(path),
          eventTypes: ['order.*'],
          description: null,
          metadata: {},
          versionPins: {},
          status: 'active',
          strictOrdering: false,
        },
      }),
    );
  });
  return subscriptionId;
}

it('loses no delivery when the dispatcher is killed mid-delivery', async () => {
  const { ds, receiver } = ctx as Required<typeof ctx>;
  const tenantId = `ten_${randomUUID()}`;
  const subscriptionId = await subscribe(ds, receiver, tenantId, '/crash');
  receiver.always('/crash', { hang: true });
  const port = await freePort();
  ctx.child = await startAppProcess('webhook-dispatcher', { ...env, DISPATCHER_PORT: String(port) }, port);
  const eventIds: string[] = [];
  for (let i = 0; i < 6; i++) {
    const orderId = `ord_${randomUUID()}`;
    const event = buildEvent({
      eventType: 'order.updated',
      tenantId,
      resourceId: orderId,
      sequence: 2,
      source: 'tidings/api',
      data: { orderId, changes: { notes: `n${i}` } },
    });
    eventIds.push(event.eventId);
    await transaction(ds, (tx) => appendEvent(tx, event));
  }
  // Mid-delivery: the first process holds hanging requests when it dies.
  await eventually(() => expect(receiver.all('/crash').length).toBeGreaterThanOrEqual(1), {
    timeoutMs: 45_000,
  });
  await ctx.child.kill('SIGKILL');
  receiver.always('/crash', { status: 200 });

  ({ app: ctx.survivor } = await createApp<WebhookDispatcherConfig>(
    () => WebhookDispatcherModule.forRoot(env),
    {
      app: 'webhook-dispatcher',
      port: (c) => c.DISPATCHER_PORT,
    },
  ));

  await eventually(
    () =>
      expect(
        receiver
          .delivered('/crash')
          .map((r) => r.headers['webhook-id'])
          .sort(),
      ).toEqual([...eventIds].sort()),
    { timeoutMs: 30_000 },
  );
  const rows = await ds.query<{ status: string }[]>(
    `SELECT status FROM webhook_deliveries WHERE subscription_id = $1`,
    [subscriptionId],
  );
  expect(rows).toHaveLength(6);
  await eventually(async () => {
    const statuses = await ds.query<{ status: string }[]>(
      `SELECT status FROM webhook_deliveries WHERE subscription_id = $1`,
      [subscriptionId],
    );
    expect(statuses.every((r) => r.status === 'succeeded')).toBe(true);
  });
});

it('finishes and records an in-flight attempt before a graceful shutdown completes', async () => {
  const { ds, receiver } = ctx as Required<typeof ctx>;
  await ctx.survivor?.close();
  ctx.survivor = undefined;
  const tenantId = `ten_${randomUUID()}`;
  const subscriptionId = await subscribe(ds, receiver, tenantId, '/graceful');
  receiver.queue('/graceful', { delayMs: 1_000 });
  const { app } = await createApp<WebhookDispatcherConfig>(() => WebhookDispatcherModule.forRoot(env), {
    app: 'webhook-dispatcher',
    port: (c) => c.DISPATCHER_PORT,
  });
  ctx.survivor = app;
  const orderId = `ord_${randomUUID()}`;
  await transaction(ds, (tx) =>
    appendEvent(
      tx,
      buildEvent({
        eventType: 'order.updated',
        tenantId,
        resourceId: orderId,
        sequence: 2,
        source: 'tidings/api',
        data: { orderId, changes: { notes: 'graceful' } },
      }),
    ),
  );
  // The process SIGKILLed by the test before stays in the consumer group until its session times out (15 s),
  // and the group's rebalance waits for it: allow for that, as the test before does.
  await eventually(() => expect(receiver.all('/graceful')).toHaveLength(1), { timeoutMs: 30_000 });
  await app.close();
  ctx.survivor = undefined;
  const rows = await ds.query<{ status: string; attempt_count: number }[]>(
    `SELECT status, attempt_count FROM webhook_deliveries WHERE subscription_id = $1`,
    [subscriptionId],
  );
  expect(rows).toEqual([{ status: 'succeeded', attempt_count: 1 }]);
});
