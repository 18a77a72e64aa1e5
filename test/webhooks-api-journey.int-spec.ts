import type { TestApi } from './support/api-app';
import { writeOrderEvent } from './support/event-writer';
import { eventually } from './support/eventually';
import { createTenant, type TestTenant } from './support/tenant';
import { WebhookReceiver } from './support/webhook-receiver';
import { startPipeline } from './support/pipeline';

/**
 * Journey through the webhook API: subscriptions created, rotated, tested, disabled and re-enabled over HTTP
 * on the real api app, with the real outbox relay and webhook dispatcher (all in-process) on real Postgres
 * and Kafka, delivering to a local receiver that verifies every signature with `standardwebhooks`.
 */
async function setup() {
  const pipeline = await startPipeline();
  const api = await pipeline.startApi();
  await pipeline.startRelay();
  await pipeline.startDispatcher({
    WEBHOOK_RETRY_SCHEDULE: '50ms,100ms',
    WEBHOOK_RETRY_JITTER: '0',
    WEBHOOK_POLL_MAX_MS: '50',
    // Status edits are seen by the very next event (the journey asserts what a disabled one misses).
    WEBHOOK_SUBSCRIPTION_CACHE_MS: '0',
  });
  const { ds, receiver } = pipeline;
  const deliveriesOf = (eventId: string) =>
    ds.query<{ subscription_id: string }[]>(
      'SELECT subscription_id FROM webhook_deliveries WHERE event_id = $1 ORDER BY subscription_id',
      [eventId],
    );
  return { ds, api, receiver, deliveriesOf, teardown: pipeline.teardown };
}

const eventIdsAt = (receiver: WebhookReceiver, path: string) =>
  receiver.delivered(path).map((r) => String(r.headers['webhook-id']));

describe('webhook API journey (api + relay + dispatcher + receiver)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let api: TestApi;
  let tenant: TestTenant;
  let a: { id: string; secret: string };
  let b: { id: string; secret: string };

  beforeAll(async () => {
    ctx = await setup();
    api = ctx.api;
    tenant = await createTenant(ctx.ds, { name: 'journey' });
    const subscribe = async (path: string, eventTypes: string[]) => {
      const res = await api.call('POST', '/webhooks', tenant.apiKey, {
        url: ctx.receiver.url(path),
        eventTypes,
      });
      expect(res.status).toBe(201);
      ctx.receiver.expectSecrets(path, res.body.secret as string);
      return { id: res.body.id as string, secret: res.body.secret as string };
    };
    a = await subscribe('/a', ['order.*']);
    b = await subscribe('/b', ['*']);
  });

  afterAll(async () => {
    await ctx?.teardown();
  });

  it('delivers a committed event, signed with the secret the API returned, to every matching subscription', async () => {
    const { eventId } = await writeOrderEvent(ctx.ds, tenant.tenantId, 'ord_journey_1');
    await eventually(() => {
      expect(eventIdsAt(ctx.receiver, '/a')).toContain(eventId);
      expect(eventIdsAt(ctx.receiver, '/b')).toContain(eventId);
    });
    const [request] = ctx.receiver.delivered('/a').filter((r) => r.headers['webhook-id'] === eventId);
    expect(request.payload).toMatchObject({ eventType: 'order.updated', resourceId: 'ord_journey_1' });
  });

  it('sends webhook.test to the subscription it names and to no other, even outside its filters', async () => {
    const res = await api.call('POST', `/webhooks/${a.id}/test`, tenant.apiKey, { message: 'ping' });
    expect(res.status).toBe(202);
    const eventId = res.body.eventId as string;
    await eventually(() => expect(eventIdsAt(ctx.receiver, '/a')).toContain(eventId));
    const [request] = ctx.receiver.delivered('/a').filter((r) => r.headers['webhook-id'] === eventId);
    expect(request.payload).toMatchObject({
      eventType: 'webhook.test',
      data: { subscriptionId: a.id, message: 'ping' },
    });
    // The dispatcher records every target of an event in one statement: /a's row is the only one.
    expect(await ctx.deliveriesOf(eventId)).toEqual([{ subscription_id: a.id }]);
    expect(ctx.receiver.all('/b').some((r) => r.headers['webhook-id'] === eventId)).toBe(false);
  });

  it('signs with both the new and the previous secret after a rotation', async () => {
    const rotated = await api.call('POST', `/webhooks/${a.id}/rotate-secret`, tenant.apiKey);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    for (const secret of [fresh, a.secret]) {
      ctx.receiver.expectSecrets('/a', secret);
      const { eventId } = (await api.call('POST', `/webhooks/${a.id}/test`, tenant.apiKey, {})).body as {
        eventId: string;
      };
      await eventually(() => expect(eventIdsAt(ctx.receiver, '/a')).toContain(eventId));
      const [request] = ctx.receiver.all('/a').filter((r) => r.headers['webhook-id'] === eventId);
      expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    }
    ctx.receiver.expectSecrets('/a', fresh);
  });

  it('delivers nothing while disabled, and re-enabling with replayFrom delivers exactly what was missed', async () => {
    const replayFrom = new Date().toISOString();
    expect(
      (await api.call('PATCH', `/webhooks/${a.id}`, tenant.apiKey, { status: 'disabled' })).body,
    ).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
    const { eventId } = await writeOrderEvent(ctx.ds, tenant.tenantId, 'ord_journey_2');
    // /b receiving it proves the event went through the dispatcher while /a was disabled.
    await eventually(() => expect(eventIdsAt(ctx.receiver, '/b')).toContain(eventId));
    expect(await ctx.deliveriesOf(eventId)).toEqual([{ subscription_id: b.id }]);
    expect(eventIdsAt(ctx.receiver, '/a')).not.toContain(eventId);

    const enabled = await api.call('PATCH', `/webhooks/${a.id}`, tenant.apiKey, {
      status: 'active',
      replayFrom,
    });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ status: 'active', replayedDeliveries: 1 });
    await eventually(() => expect(eventIdsAt(ctx.receiver, '/a')).toContain(eventId));
    expect(ctx.receiver.all('/a').every((r) => r.verified)).toBe(true);
  });
});
