import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { eventually } from './support/eventually';
import { commitEvent, orderCreatedEvent } from './support/factories/events';
import { creationPositioned, insertSubscription } from './support/factories/subscriptions';
import { startPipeline } from './support/pipeline';

/**
 * Journey across the real outbox relay and the real webhook dispatcher (both in-process) on real Postgres
 * and Kafka: a committed event reaches a subscriber as a signed webhook, and the dispatcher's own operational
 * events travel back through the outbox and the relay to the tenant's admin subscription.
 */
async function setup() {
  const pipeline = await startPipeline();
  await pipeline.startRelay();
  await pipeline.startDispatcher({
    WEBHOOK_RETRY_SCHEDULE: '50ms,100ms',
    WEBHOOK_RETRY_JITTER: '0',
    WEBHOOK_FAILING_WARNING_AT: '2',
    WEBHOOK_FAILING_WARNING_AFTER: '40ms',
    WEBHOOK_DISABLE_AFTER_DEAD_LETTERS: '2',
    WEBHOOK_POLL_MAX_MS: '50',
  });
  return { ds: pipeline.ds, receiver: pipeline.receiver, teardown: pipeline.teardown };
}

let ctx: Awaited<ReturnType<typeof setup>>;
beforeAll(async () => {
  ctx = await setup();
});
afterAll(async () => {
  await ctx?.teardown();
});

/** A subscription as the API writes it, matching from once the relay has positioned its creation. */
async function subscribe(ds: DataSource, tenantId: string, url: string, eventTypes: string[]) {
  const subscription = await insertSubscription(ds, { tenantId, url, eventTypes });
  await creationPositioned(ds, subscription.id);
  return subscription;
}

async function orderCreated(ds: DataSource, tenantId: string) {
  return (await commitEvent(ds, orderCreatedEvent({ tenantId }))).eventId;
}

it('delivers a committed event through the relay as a signed webhook with its tenant position', async () => {
  const { ds, receiver } = ctx;
  const tenantId = `ten_${randomUUID()}`;
  const { secret } = await subscribe(ds, tenantId, receiver.url('/journey'), ['order.*']);
  receiver.expectSecrets('/journey', secret);
  const eventId = await orderCreated(ds, tenantId);
  const [request] = await eventually(() => {
    const got = receiver.delivered('/journey');
    expect(got).toHaveLength(1);
    return got;
  });
  expect(request.headers['webhook-id']).toBe(eventId);
  const [stored] = await ds.query<{ position: string }[]>(
    `SELECT position FROM event_log WHERE event_id = $1`,
    [eventId],
  );
  expect(request.payload).toMatchObject({
    eventId,
    eventType: 'order.created',
    position: Number(stored.position),
  });
});

it("routes the dispatcher's disabling of a failing endpoint back through the relay to the tenant's admin", async () => {
  const { ds, receiver } = ctx;
  const tenantId = `ten_${randomUUID()}`;
  const admin = await subscribe(ds, tenantId, receiver.url('/journey-admin'), ['webhook.*']);
  receiver.expectSecrets('/journey-admin', admin.secret);
  const broken = await subscribe(ds, tenantId, receiver.url('/journey-broken'), ['order.*']);
  receiver.expectSecrets('/journey-broken', broken.secret);
  receiver.always('/journey-broken', { status: 500 });
  await orderCreated(ds, tenantId);
  await orderCreated(ds, tenantId);
  const types = await eventually(() => {
    const got = receiver.delivered('/journey-admin').map((r) => r.payload?.eventType);
    expect(got).toEqual(
      expect.arrayContaining(['webhook.subscription.failing', 'webhook.subscription.disabled']),
    );
    return got;
  });
  expect(types.filter((t) => t === 'webhook.subscription.disabled')).toHaveLength(1);
  const disabled = receiver
    .delivered('/journey-admin')
    .find((r) => r.payload?.eventType === 'webhook.subscription.disabled');
  expect(disabled?.payload).toMatchObject({
    resourceId: broken.id,
    data: { subscriptionId: broken.id, reason: 'consecutive_failures', consecutiveFailures: 6 },
  });
});
