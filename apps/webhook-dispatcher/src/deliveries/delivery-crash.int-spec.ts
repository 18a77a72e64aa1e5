import type { NestExpressApplication } from '@nestjs/platform-express';
import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AppProcess } from '../../../../test/support/app-process';
import { eventually } from '../../../../test/support/eventually';
import { insertSubscription } from '../../../../test/support/factories/subscriptions';
import { startPipeline, type Pipeline } from '../../../../test/support/pipeline';
import type { WebhookReceiver } from '../../../../test/support/webhook-receiver';

/**
 * A dispatcher process SIGKILLed while its requests are in flight loses nothing: the deliveries were recorded
 * before the Kafka offsets were committed, and their leases expire so a second dispatcher sends them again.
 */

const ctx: {
  pipeline?: Pipeline;
  child?: AppProcess;
  survivor?: NestExpressApplication;
} = {};
const dispatcherEnv = {
  WEBHOOK_RETRY_SCHEDULE: '50ms,100ms,150ms',
  WEBHOOK_RETRY_JITTER: '0',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_LEASE_MARGIN_MS: '500',
  WEBHOOK_POLL_MAX_MS: '50',
  // Timeouts of the killed process must not disable the endpoint: this test is about loss, not health.
  WEBHOOK_FAILING_WARNING_AT: '40',
  WEBHOOK_DISABLE_AFTER_DEAD_LETTERS: '50',
};

beforeAll(async () => {
  ctx.pipeline = await startPipeline();
  await ctx.pipeline.startRelay();
});

afterAll(async () => {
  await ctx.pipeline?.teardown();
});

/** A subscription of `order.*` as the API writes it, delivering to `path` of the receiver. */
async function subscribe(ds: DataSource, receiver: WebhookReceiver, tenantId: string, path: string) {
  const { id, secret } = await insertSubscription(ds, { tenantId, url: receiver.url(path) });
  receiver.expectSecrets(path, secret);
  return id;
}

it('loses no delivery when the dispatcher is killed mid-delivery', async () => {
  const { ds, receiver } = ctx.pipeline!;
  const tenantId = `ten_${randomUUID()}`;
  const subscriptionId = await subscribe(ds, receiver, tenantId, '/crash');
  receiver.always('/crash', { hang: true });
  ctx.child = await ctx.pipeline!.spawn('webhook-dispatcher', dispatcherEnv);
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

  ({ app: ctx.survivor } = await ctx.pipeline!.startDispatcher(dispatcherEnv));

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
  const { ds, receiver } = ctx.pipeline!;
  if (ctx.survivor) await ctx.pipeline!.close(ctx.survivor);
  ctx.survivor = undefined;
  const tenantId = `ten_${randomUUID()}`;
  const subscriptionId = await subscribe(ds, receiver, tenantId, '/graceful');
  receiver.queue('/graceful', { delayMs: 1_000 });
  const { app } = await ctx.pipeline!.startDispatcher(dispatcherEnv);
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
  await ctx.pipeline!.close(app);
  ctx.survivor = undefined;
  const rows = await ds.query<{ status: string; attempt_count: number }[]>(
    `SELECT status, attempt_count FROM webhook_deliveries WHERE subscription_id = $1`,
    [subscriptionId],
  );
  expect(rows).toEqual([{ status: 'succeeded', attempt_count: 1 }]);
});
