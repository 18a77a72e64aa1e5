import type { INestApplication } from '@nestjs/common';
import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { KafkaJsClient, platformTopics } from '@tidings/kafka';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { eventually } from '../../../../test/support/eventually';
import { commitEvent, orderCreatedEvent } from '../../../../test/support/factories/events';
import { creationPositioned, insertSubscription } from '../../../../test/support/factories/subscriptions';
import { kafkaBrokers } from '../../../../test/support/infra';
import { collectTopic } from '../../../../test/support/kafka-reader';
import { startPipeline, type Pipeline } from '../../../../test/support/pipeline';
import type { WebhookReceiver } from '../../../../test/support/webhook-receiver';

/**
 * The webhook dispatcher end to end on real Postgres and Kafka: events appended through the outbox are
 * positioned and published by the outbox relay, consumed by the dispatcher, and POSTed to a local receiver that
 * verifies every request with the `standardwebhooks` package. Subscriptions are written as the API writes them
 * (row + `webhook.subscription.created` event in one transaction). Compressed schedule: 3 attempts
 * (50 ms, 100 ms), warning after 2 consecutive failures, disabled after 2 consecutive dead letters (the
 * lifecycle at its default thresholds is test/webhook-lifecycle.int-spec.ts).
 */
const TIMEOUT_MS = 3_000;

interface Ctx {
  pipeline: Pipeline;
  ds: DataSource;
  receiver: WebhookReceiver;
  dispatcherUrl: string;
  /** The outbox relay, in this process; a test that holds publishing closes it and starts another. */
  relay: INestApplication;
  kafka: KafkaJsClient;
  deadLetters: Record<string, unknown>[];
  poison: { key: string | null; headers: Record<string, string> }[];
  /** Stops the two dead-letter collectors. */
  stopCollectors: () => Promise<void>;
  prefix: string;
}

let ctx: Ctx;

beforeAll(async () => {
  const pipeline = await startPipeline({ poolSize: 4 });
  const { ds, prefix, receiver } = pipeline;
  const kafka = new KafkaJsClient({ brokers: kafkaBrokers(), clientId: 'webhooks-int-spec' });
  const { app: relay } = await pipeline.startRelay();
  const deadLetters = await collectTopic(kafka, platformTopics(prefix).webhookDeadLetter);
  const poison = await collectTopic(kafka, platformTopics(prefix).consumerDeadLetter, (m) => ({
    key: m.key,
    headers: m.headers,
  }));
  const { url: dispatcherUrl } = await pipeline.startDispatcher({
    DB_POOL_SIZE: '6',
    WEBHOOK_RETRY_SCHEDULE: '50ms,100ms',
    WEBHOOK_RETRY_JITTER: '0',
    WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    WEBHOOK_FAILING_WARNING_AT: '2',
    WEBHOOK_FAILING_WARNING_AFTER: '40ms',
    WEBHOOK_DISABLE_AFTER_DEAD_LETTERS: '2',
    // Longer than any wait below: retries, held-back events of a resource and freed slots must wake the
    // worker themselves, never by the idle poll.
    WEBHOOK_POLL_MAX_MS: '10000',
    WEBHOOK_LEASE_MARGIN_MS: '1000',
    WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '4',
  });
  ctx = {
    pipeline,
    ds,
    receiver,
    dispatcherUrl,
    relay,
    kafka,
    deadLetters: deadLetters.records,
    poison: poison.records,
    stopCollectors: async () => {
      await deadLetters.stop();
      await poison.stop();
    },
    prefix,
  };
});

afterAll(async () => {
  await ctx?.stopCollectors();
  await ctx?.kafka.disconnect();
  await ctx?.pipeline.teardown();
});

interface SubscriptionSpec {
  path: string;
  tenantId: string;
  eventTypes?: string[];
  versionPins?: Record<string, number>;
  strictOrdering?: boolean;
  host?: string;
}

/**
 * Creates a subscription the way the API does (row + `webhook.subscription.created`, one commit), then waits
 * until the relay has positioned that event, unless `positioned` is false (the relay is held).
 */
async function subscribe(
  spec: SubscriptionSpec,
  { positioned = true } = {},
): Promise<{ id: string; secret: string; path: string }> {
  const { tenantId, eventTypes, versionPins, strictOrdering } = spec;
  const url = ctx.receiver.url(spec.path, spec.host);
  const { id, secret } = await insertSubscription(ctx.ds, {
    tenantId,
    url,
    eventTypes,
    versionPins,
    strictOrdering,
  });
  ctx.receiver.expectSecrets(spec.path, secret);
  if (positioned) await creationPositioned(ctx.ds, id);
  return { id, secret, path: spec.path };
}

let orderCounter = 0;

/** Appends an order.created (v2) for a new order; returns its event id and order id. */
async function orderCreated(tenantId: string, orderId = `ord_${++orderCounter}_${randomUUID()}`) {
  const event = await commitEvent(ctx.ds, orderCreatedEvent({ tenantId, orderId }));
  return { eventId: event.eventId, orderId };
}

async function orderUpdated(tenantId: string, orderId: string, sequence: number) {
  const event = buildEvent({
    eventType: 'order.updated',
    tenantId,
    resourceId: orderId,
    sequence,
    source: 'tidings/api',
    data: { orderId, changes: { notes: `change ${sequence}` } },
  });
  await transaction(ctx.ds, (tx) => appendEvent(tx, event));
  return event.eventId;
}

interface AttemptRow {
  attempt_number: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  attempted_at: Date;
  next_attempt_at: Date | null;
}

async function attemptsOf(subscriptionId: string): Promise<AttemptRow[]> {
  return await ctx.ds.query<AttemptRow[]>(
    `SELECT a.attempt_number, a.status_code, a.error, a.response_body, a.attempted_at, a.next_attempt_at
     FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
     WHERE d.subscription_id = $1 ORDER BY a.attempted_at, a.attempt_number`,
    [subscriptionId],
  );
}

async function deliveriesOf(subscriptionId: string) {
  return await ctx.ds.query<
    { id: string; status: string; attempt_count: number; dead_at: Date | null; event_id: string }[]
  >(
    `SELECT id, status, attempt_count, dead_at, sequence, event_id FROM webhook_deliveries
     WHERE subscription_id = $1 ORDER BY event_position`,
    [subscriptionId],
  );
}

async function subscriptionRow(id: string) {
  const [row] = await ctx.ds.query<
    { status: string; disabled_reason: string | null; consecutive_failures: number; version: number }[]
  >(
    `SELECT status, disabled_reason, consecutive_failures, version FROM webhook_subscriptions WHERE id = $1`,
    [id],
  );
  return row;
}

const tenant = () => `ten_${randomUUID()}`;

describe('webhook dispatcher', () => {
  it('delivers a signed event that verifies with standardwebhooks, with the documented headers', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/signed', tenantId: t });
    const { eventId, orderId } = await orderCreated(t);
    const [request] = await eventually(() => {
      const got = ctx.receiver.delivered('/signed');
      expect(got).toHaveLength(1);
      return got;
    });
    expect(request.verified).toBe(true);
    expect(request.headers['webhook-id']).toBe(eventId);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe('Tidings-Webhooks/1');
    expect(Number(request.headers['webhook-timestamp'])).toBeGreaterThan(0);
    expect(request.payload).toMatchObject({
      eventId,
      eventType: 'order.created',
      version: 2,
      resourceId: orderId,
    });
    expect(request.headers['deprecation']).toBeUndefined();
    await eventually(async () => expect((await deliveriesOf(sub.id))[0]?.status).toBe('succeeded'));
  });

  it('does not deliver an event committed before the subscription, even when consumed after it', async () => {
    const t = tenant();
    // No relay while the three commit, so the dispatcher sees the early event only once the subscription exists;
    // the next relay positions them in commit order: early, the subscription's creation, late.
    await ctx.pipeline.close(ctx.relay);
    const early = await orderCreated(t);
    const sub = await subscribe({ path: '/after-creation', tenantId: t }, { positioned: false });
    const late = await orderCreated(t);
    ({ app: ctx.relay } = await ctx.pipeline.startRelay());
    await eventually(() => expect(ctx.receiver.delivered('/after-creation')).toHaveLength(1));
    expect(ctx.receiver.delivered('/after-creation')[0].headers['webhook-id']).toBe(late.eventId);
    expect((await deliveriesOf(sub.id)).map((d) => d.event_id)).toEqual([late.eventId]);
    // The early event was positioned before the subscription's creation, and reached the dispatcher after it.
    const logged = await ctx.ds.query<{ resource_id: string; position: number }[]>(
      `SELECT resource_id, position::int FROM event_log WHERE tenant_id = $1 ORDER BY position`,
      [t],
    );
    expect(logged).toEqual([
      { resource_id: early.orderId, position: 1 },
      { resource_id: sub.id, position: 2 },
      { resource_id: late.orderId, position: 3 },
    ]);
  });

  it('renders one event at each subscription pinned version, with Deprecation and Sunset on the deprecated one', async () => {
    const t = tenant();
    await subscribe({ path: '/pinned-v1', tenantId: t, versionPins: { 'order.created': 1 } });
    await subscribe({ path: '/latest', tenantId: t });
    const { eventId } = await orderCreated(t);
    const [v1] = await eventually(() => {
      const got = ctx.receiver.delivered('/pinned-v1');
      expect(got).toHaveLength(1);
      return got;
    });
    const [v2] = await eventually(() => {
      const got = ctx.receiver.delivered('/latest');
      expect(got).toHaveLength(1);
      return got;
    });
    expect(v1.payload).toMatchObject({ eventId, version: 1 });
    expect(v2.payload).toMatchObject({ eventId, version: 2 });
    expect(v1.body).not.toEqual(v2.body);
    expect(v1.headers['deprecation']).toBeDefined();
    expect(v1.headers['sunset']).toBeDefined();
    expect(v2.headers['deprecation']).toBeUndefined();
  });

  it('retries on the compressed schedule and succeeds on the third attempt', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/flaky', tenantId: t });
    ctx.receiver.queue('/flaky', { status: 500 }, { status: 502 });
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/flaky')).toHaveLength(1));
    await eventually(async () =>
      expect((await deliveriesOf(sub.id))[0]).toMatchObject({ status: 'succeeded' }),
    );
    const attempts = await attemptsOf(sub.id);
    expect(attempts.map((a) => [a.attempt_number, a.status_code])).toEqual([
      [1, 500],
      [2, 502],
      [3, 200],
    ]);
    expect(ctx.receiver.all('/flaky')).toHaveLength(3);
    expect(new Set(ctx.receiver.all('/flaky').map((r) => r.headers['webhook-id'])).size).toBe(1);
    // The first attempt went out on the fast path (the consumed envelope), the retries by claim (the event log
    // row): the same bytes every time.
    expect(new Set(ctx.receiver.all('/flaky').map((r) => r.body)).size).toBe(1);
    const metrics = await fetch(`${ctx.dispatcherUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/tidings_webhook_deliveries_recorded_total\{[^}]*path="direct"[^}]*\} [1-9]/);
    expect((await subscriptionRow(sub.id)).consecutive_failures).toBe(0);
  });

  it('dead-letters a delivery that exhausts its schedule: row, Kafka DLQ message and exhausted event', async () => {
    const t = tenant();
    const admin = await subscribe({ path: '/dlq-admin', tenantId: t, eventTypes: ['webhook.*'] });
    const sub = await subscribe({ path: '/dlq', tenantId: t });
    ctx.receiver.always('/dlq', { status: 500, body: 'down' });
    const { eventId } = await orderCreated(t);
    const [dead] = await eventually(async () => {
      const rows = await deliveriesOf(sub.id);
      expect(rows[0]).toMatchObject({ status: 'dead', attempt_count: 3 });
      return rows;
    });
    expect(dead.dead_at).not.toBeNull();
    expect(ctx.receiver.all('/dlq')).toHaveLength(3);
    await eventually(() =>
      expect(ctx.deadLetters).toContainEqual(
        expect.objectContaining({ deliveryId: dead.id, eventId, subscriptionId: sub.id, attempts: 3 }),
      ),
    );
    const exhausted = await eventually(() => {
      const got = ctx.receiver
        .delivered(admin.path)
        .filter((r) => r.payload?.eventType === 'webhook.delivery.exhausted');
      expect(got).toHaveLength(1);
      return got[0];
    });
    expect(exhausted.payload).toMatchObject({
      resourceId: sub.id,
      data: { subscriptionId: sub.id, deliveryId: dead.id, eventId, attempts: 3, lastError: 'HTTP 500' },
    });
    const metrics = await fetch(`${ctx.dispatcherUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/tidings_webhook_dead_letters_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/tidings_webhook_deliveries_total\{[^}]*outcome="dead"[^}]*\} [1-9]/);
    expect(metrics).toMatch(
      /tidings_webhook_attempt_duration_seconds_count\{[^}]*outcome="failed"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/tidings_webhook_retry_queue_depth\{[^}]*\} \d+/);
    // Three failures: the warning fired at two; one dead letter, the subscription is still active (disabled at two).
    expect((await subscriptionRow(sub.id)).status).toBe('active');
    expect(
      ctx.receiver.delivered(admin.path).some((r) => r.payload?.eventType === 'webhook.subscription.failing'),
    ).toBe(true);
  });

  it('disables a 500-ing endpoint after the configured dead letters and tells the tenant admin subscription', async () => {
    const t = tenant();
    const admin = await subscribe({ path: '/ops', tenantId: t, eventTypes: ['webhook.*'] });
    const sub = await subscribe({ path: '/broken', tenantId: t });
    ctx.receiver.always('/broken', { status: 500 });
    await orderCreated(t);
    await orderCreated(t);
    await eventually(async () =>
      expect(await subscriptionRow(sub.id)).toMatchObject({
        status: 'disabled',
        disabled_reason: 'consecutive_failures',
      }),
    );
    const disabled = await eventually(() => {
      const got = ctx.receiver
        .delivered(admin.path)
        .filter((r) => r.payload?.eventType === 'webhook.subscription.disabled');
      expect(got).toHaveLength(1);
      return got[0];
    });
    expect(disabled.payload).toMatchObject({
      resourceType: 'webhook',
      resourceId: sub.id,
      data: { subscriptionId: sub.id, reason: 'consecutive_failures', consecutiveFailures: 6 },
    });
    const failing = ctx.receiver
      .delivered(admin.path)
      .filter((r) => r.payload?.eventType === 'webhook.subscription.failing');
    expect(failing).toHaveLength(1);
    // Warned once the streak had both 2 failures and lasted WEBHOOK_FAILING_WARNING_AFTER (40 ms): the two
    // first attempts may fail together, so the warning can come at the second failure or a later one.
    expect(failing[0].payload).toMatchObject({ data: { threshold: 2 } });
    expect(
      (failing[0].payload?.data as { consecutiveFailures: number }).consecutiveFailures,
    ).toBeGreaterThanOrEqual(2);
    // Both deliveries went through their whole schedule (3 attempts each) before the disable.
    expect(await attemptsOf(sub.id)).toHaveLength(6);
    const metrics = await fetch(`${ctx.dispatcherUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /tidings_webhook_subscriptions_disabled_total\{[^}]*reason="consecutive_failures"[^}]*\} [1-9]/,
    );
  });

  it('disables the subscription on 410 Gone after one attempt', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/gone', tenantId: t });
    ctx.receiver.always('/gone', { status: 410 });
    await orderCreated(t);
    await eventually(async () =>
      expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'disabled', disabled_reason: 'gone' }),
    );
    expect(ctx.receiver.all('/gone')).toHaveLength(1);
  });

  it('honours Retry-After on 429 over the shorter schedule', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/throttled', tenantId: t });
    ctx.receiver.queue('/throttled', { status: 429, headers: { 'retry-after': '1' } });
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/throttled')).toHaveLength(1));
    const [first, second] = await eventually(async () => {
      const rows = await attemptsOf(sub.id);
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(first.status_code).toBe(429);
    expect(first.next_attempt_at!.getTime() - first.attempted_at.getTime()).toBeGreaterThanOrEqual(1000);
    expect(second.attempted_at.getTime()).toBeGreaterThanOrEqual(first.next_attempt_at!.getTime());
    const [a, b] = ctx.receiver.all('/throttled');
    expect(b.receivedAt - a.receivedAt).toBeGreaterThanOrEqual(1000);
  });

  it('records a hanging endpoint as a timed-out failure and retries it', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/hang', tenantId: t });
    ctx.receiver.queue('/hang', { hang: true });
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/hang')).toHaveLength(1), { timeoutMs: 20_000 });
    const [first, second] = await eventually(async () => {
      const rows = await attemptsOf(sub.id);
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(first).toMatchObject({ status_code: null });
    expect(first.error).toMatch(/timed out/);
    expect(second.status_code).toBe(200);
  });

  it('stores a huge response body truncated to the limit', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/huge', tenantId: t });
    ctx.receiver.always('/huge', { hugeBodyBytes: 5 * 1024 * 1024 });
    await orderCreated(t);
    const [attempt] = await eventually(async () => {
      const rows = await attemptsOf(sub.id);
      expect(rows).toHaveLength(1);
      return rows;
    });
    expect(attempt.status_code).toBe(200);
    expect(attempt.response_body).toHaveLength(65_536);
  });

  it('does not follow a redirect to 127.0.0.1: the 3xx is a recorded failure', async () => {
    const t = tenant();
    const sub = await subscribe({ path: '/redirect', tenantId: t });
    ctx.receiver.expectSecrets('/redirect-target', sub.secret);
    ctx.receiver.queue('/redirect', {
      status: 302,
      headers: { location: ctx.receiver.url('/redirect-target') },
    });
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/redirect')).toHaveLength(1));
    const [first] = await eventually(async () => {
      const rows = await attemptsOf(sub.id);
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(first.status_code).toBe(302);
    expect(first.error).toBe('HTTP 302');
    expect(ctx.receiver.all('/redirect-target')).toHaveLength(0);
  });

  it.each([
    ['a host name that resolves to loopback', 'localhost', 'localhost (127.0.0.1): loopback'],
    // Stored before the IPv6 allow-list (creation refuses it now): the connect-time check refuses it on its own.
    [
      'an IPv4-translated loopback literal',
      '[::ffff:0:127.0.0.1]',
      '::ffff:0:7f00:1 (::ffff:0:7f00:1): loopback',
    ],
  ])(
    'refuses at connect time %s when only 127.0.0.1 is allowlisted, recorded as forbidden_address',
    async (_what, host, detail) => {
      const t = tenant();
      const path = `/ssrf-${randomUUID()}`;
      const sub = await subscribe({ path, tenantId: t, host });
      await orderCreated(t);
      const [first] = await eventually(async () => {
        const rows = await attemptsOf(sub.id);
        expect(rows.length).toBeGreaterThanOrEqual(1);
        return rows;
      });
      expect(first.status_code).toBeNull();
      expect(first.error).toBe(`forbidden_address: refused to connect to ${detail} address`);
      expect(ctx.receiver.all(path)).toHaveLength(0);
    },
  );

  it('keeps delivering to a healthy endpoint while a slow one holds its capped slots', async () => {
    const t = tenant();
    const slow = await subscribe({ path: '/slow', tenantId: t, eventTypes: ['order.created'] });
    const healthy = await subscribe({ path: '/healthy', tenantId: t, eventTypes: ['order.updated'] });
    ctx.receiver.always('/slow', { hang: true });
    for (let i = 0; i < 8; i++) await orderCreated(t);
    await eventually(() => expect(ctx.receiver.all('/slow')).toHaveLength(4));
    const { orderId } = { orderId: `ord_healthy_${randomUUID()}` };
    for (let seq = 2; seq <= 9; seq++) await orderUpdated(t, orderId, seq);
    await eventually(() => expect(ctx.receiver.delivered('/healthy')).toHaveLength(8));
    // The slow endpoint never held more than its per-subscription cap of concurrent requests…
    expect(ctx.receiver.maxConcurrent('/slow')).toBe(4);
    // …and the healthy one, being one resource, got its events in sequence order.
    expect(ctx.receiver.delivered('/healthy').map((r) => r.payload?.sequence)).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    await eventually(async () =>
      expect((await deliveriesOf(healthy.id)).map((d) => d.status)).toEqual(Array(8).fill('succeeded')),
    );
    expect((await deliveriesOf(slow.id)).length).toBe(8);
  });

  it('with strict ordering holds later events of a resource until the earlier one succeeded', async () => {
    const t = tenant();
    await subscribe({ path: '/strict', tenantId: t, eventTypes: ['order.updated'], strictOrdering: true });
    ctx.receiver.queue('/strict', { status: 500 }, { status: 500 });
    const orderId = `ord_strict_${randomUUID()}`;
    await orderUpdated(t, orderId, 2);
    await orderUpdated(t, orderId, 3);
    await eventually(() => expect(ctx.receiver.delivered('/strict')).toHaveLength(2));
    expect(ctx.receiver.all('/strict').map((r) => r.payload?.sequence)).toEqual([2, 2, 2, 3]);
  });

  it('dead-letters an undecodable Kafka message and keeps consuming', async () => {
    const t = tenant();
    await subscribe({ path: '/after-poison', tenantId: t });
    const producer = await ctx.kafka.createProducer();
    try {
      await producer.send([{ topic: `${ctx.prefix}events.order`, key: 'ord_poison', value: '{not json' }]);
    } finally {
      await producer.disconnect();
    }
    await eventually(() =>
      expect(ctx.poison).toContainEqual(
        expect.objectContaining({
          key: 'ord_poison',
          headers: expect.objectContaining({ 'dlq-reason': expect.any(String) }),
        }),
      ),
    );
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/after-poison')).toHaveLength(1));
  });

  it('sends webhook.test only to the subscription it names', async () => {
    const t = tenant();
    const target = await subscribe({ path: '/ping-target', tenantId: t, eventTypes: ['order.*'] });
    await subscribe({ path: '/ping-bystander', tenantId: t, eventTypes: ['*'] });
    const ping = buildEvent({
      eventType: 'webhook.test',
      tenantId: t,
      resourceId: target.id,
      sequence: 2,
      source: 'tidings/api',
      data: { subscriptionId: target.id, message: 'hello' },
    });
    await transaction(ctx.ds, async (tx) => {
      await tx.query(`UPDATE webhook_subscriptions SET version = 2 WHERE id = $1`, [target.id]);
      await appendEvent(tx, ping);
    });
    await orderCreated(t);
    await eventually(() => expect(ctx.receiver.delivered('/ping-bystander')).toHaveLength(1));
    await eventually(() =>
      expect(
        ctx.receiver
          .delivered('/ping-target')
          .map((r) => r.payload?.eventType)
          .sort(),
      ).toEqual(['order.created', 'webhook.test']),
    );
    expect(ctx.receiver.delivered('/ping-bystander')[0].payload?.eventType).toBe('order.created');
  });
});
