import type { INestApplication } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { registerTracing } from '@tidings/runtime';
import type { TestApi } from './support/api-app';
import { eventually } from './support/eventually';
import { orderBody } from './support/factories/resources';
import { startPipeline, type Pipeline } from './support/pipeline';
import { type Family, scrape } from './support/prometheus';
import { SseClient } from './support/sse-client';
import { createTenant, type TestTenant } from './support/tenant';

/**
 * One trace from the client's request to the subscriber's: api, relay, dispatcher and gateway in-process on real
 * Postgres and Kafka, with spans exported to memory through the runtime's tracing module. Then the metrics that
 * traffic left on each app's /metrics (end-to-end latencies, consumer lag), as Prometheus' text format parses.
 */
type Started = { app: INestApplication; url: string };

const exporter = new InMemorySpanExporter();
let release: () => Promise<void>;
let pipeline: Pipeline;
let api: TestApi;
let gatewayUrl: string;
let relay: Started;
let dispatcher: Started;
let gateway: Started;
let tenant: TestTenant;

beforeAll(async () => {
  release = registerTracing({ exporter, serviceName: 'tidings-test', simple: true });
  pipeline = await startPipeline();
  api = await pipeline.startApi();
  relay = await pipeline.startRelay();
  dispatcher = await pipeline.startDispatcher();
  gateway = await pipeline.startGateway();
  gatewayUrl = gateway.url;
  tenant = await createTenant(pipeline.ds);
});

afterAll(async () => {
  await pipeline?.teardown();
  await release?.();
});

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

it('traces POST /orders to the webhook request: one trace, request → transaction → publish → attempt', async () => {
  const created = await api.call('POST', '/webhooks', tenant.apiKey, {
    url: pipeline.receiver.url('/traced'),
    eventTypes: ['order.created'],
  });
  expect(created.status).toBe(201);
  pipeline.receiver.expectSecrets('/traced', created.body.secret as string);
  const stream = await SseClient.connect(`${gatewayUrl}/events/stream?types=order.created`, {
    token: tenant.apiKey,
  });

  const res = await fetch(`${api.url}/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tenant.apiKey}`,
      'content-type': 'application/json',
      traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
    },
    body: JSON.stringify(orderBody()),
  });
  expect(res.status).toBe(201);
  const orderId = ((await res.json()) as { id: string }).id;

  const [request] = await eventually(() => {
    const got = pipeline.receiver.delivered('/traced');
    expect(got).toHaveLength(1);
    return got;
  });
  const sent = String(request.headers.traceparent);
  expect(sent).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));
  const frame = await eventually(() => {
    const got = stream.frames.find(
      (f) => (JSON.parse(f.data) as { resourceId?: string }).resourceId === orderId,
    );
    expect(got).toBeDefined();
    return JSON.parse(got!.data) as { traceparent?: string };
  });
  stream.close();

  const eventId = request.headers['webhook-id'];
  // The attempt's span ends once its response is in, after the receiver recorded the request: wait for all.
  const [server, transaction, publish, attempt, send] = await eventually(() => {
    const spans = exporter.getFinishedSpans();
    const found = [
      spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /orders'),
      spans.find((s) => s.name === 'transaction order.create'),
      spans.find((s) => s.name.startsWith('publish ') && s.attributes['messaging.message.id'] === eventId),
      spans.find((s) => s.kind === SpanKind.CLIENT && s.attributes['tidings.event_id'] === eventId),
      spans.find((s) => s.name === 'sse send' && s.attributes['messaging.message.id'] === eventId),
    ];
    for (const span of found) expect(span).toBeDefined();
    return found as ReadableSpan[];
  });
  for (const s of [server, transaction, publish, attempt, send]) {
    expect(s.spanContext().traceId).toBe(CLIENT_TRACE);
  }
  // The client's span is the server span's remote parent; each hop continues the one before it.
  expect(parentOf(server)).toBe(CLIENT_SPAN);
  expect(server.attributes['http.response.status_code']).toBe(201);
  expect(parentOf(transaction)).toBe(idOf(server));
  expect(publish.kind).toBe(SpanKind.PRODUCER);
  expect(publish.name).toMatch(/^publish .*events\.order$/);
  expect(parentOf(publish)).toBe(idOf(transaction));
  // Sent straight from the consumed record: child of the publish span (a delivery claimed from the table, e.g.
  // a retry, continues the context stored with the event, the transaction's).
  expect([idOf(publish), idOf(transaction)]).toContain(parentOf(attempt));
  expect(attempt.attributes['http.response.status_code']).toBe(200);
  // The receiver got the attempt's own context.
  expect(sent).toBe(`00-${CLIENT_TRACE}-${idOf(attempt)}-01`);
  // Live from the record: child of the publish span; filled from the log after a gap, of the stored context.
  expect([idOf(publish), idOf(transaction)]).toContain(parentOf(send));
  expect(send.attributes['tidings.streams']).toBe(1);
  // The frame carries the send span's context where EventSource can read it: in `data`.
  expect(frame.traceparent).toBe(`00-${CLIENT_TRACE}-${idOf(send)}-01`);
});

it('starts a new trace for an invalid traceparent, and the webhook still carries one', async () => {
  const res = await fetch(`${api.url}/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tenant.apiKey}`,
      'content-type': 'application/json',
      traceparent: `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`,
    },
    body: JSON.stringify(orderBody({ customerId: 'cus_2' })),
  });
  expect(res.status).toBe(201);
  const [, request] = await eventually(() => {
    const got = pipeline.receiver.delivered('/traced');
    expect(got).toHaveLength(2);
    return got;
  });
  const traceId = String(request.headers.traceparent).split('-')[1];
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(traceId).not.toBe('0'.repeat(32));
  const server = exporter
    .getFinishedSpans()
    .find((s) => s.kind === SpanKind.SERVER && s.spanContext().traceId === traceId);
  expect(server?.parentSpanContext).toBeUndefined();
});

describe('metrics after that traffic', () => {
  const apps = () =>
    [
      ['api', api.app, api.url],
      ['outbox-relay', relay.app, relay.url],
      ['webhook-dispatcher', dispatcher.app, dispatcher.url],
      ['sse-gateway', gateway.app, gateway.url],
    ] as const;
  /** A histogram's observation count and sum, from its _count and _sum samples. */
  const histogram = (families: Map<string, Family>, name: string) => {
    const family = families.get(name);
    expect(family?.type).toBe('histogram');
    const sample = (suffix: string) => family!.values.find((v) => v.metricName === `${name}${suffix}`)!.value;
    const inf = family!.values.find((v) => v.metricName === `${name}_bucket` && v.labels.le === '+Inf')!;
    return { count: sample('_count'), sum: sample('_sum'), inf: inf.value };
  };

  it('exposes every series of every app in Prometheus format, labelled with its app', async () => {
    for (const [name, app, url] of apps()) {
      const families = await scrape(app, url);
      expect(families.size).toBeGreaterThan(10);
      for (const family of families.values())
        for (const sample of family.values)
          expect({ metric: family.name, app: sample.labels.app }).toEqual({ metric: family.name, app: name });
    }
  });

  it('measures commit → Kafka, commit → webhook 2xx and commit → SSE frame for the events sent', async () => {
    const toKafka = histogram(await scrape(relay.app, relay.url), 'tidings_relay_commit_to_kafka_seconds');
    // The two orders and the subscription's own event.
    expect(toKafka.count).toBeGreaterThanOrEqual(3);
    // Observed once the outcome is written, just after the receiver's answer.
    const toWebhook = await eventually(async () => {
      const h = histogram(
        await scrape(dispatcher.app, dispatcher.url),
        'tidings_webhook_commit_to_delivered_seconds',
      );
      expect(h.count).toBe(2);
      return h;
    });
    const toSse = histogram(await scrape(gateway.app, gateway.url), 'tidings_sse_commit_to_sent_seconds');
    expect(toSse.count).toBeGreaterThanOrEqual(1);
    for (const h of [toKafka, toWebhook, toSse]) {
      expect(h.sum).toBeGreaterThan(0);
      expect(h.inf).toBe(h.count);
      // No observation is older than this test file.
      expect(h.sum / h.count).toBeLessThan(300);
    }
  });

  it("reports the dispatcher's and the gateway's consumer lag per group and partition, 0 once consumed", async () => {
    for (const [app, group] of [
      [dispatcher, /webhook-dispatcher$/],
      [gateway, /^sse-/],
    ] as const) {
      await eventually(async () => {
        const lag = (await scrape(app.app, app.url)).get('tidings_kafka_consumer_lag');
        expect(lag?.type).toBe('gauge');
        const order = lag!.values.filter((v) => /events\.order$/.test(String(v.labels.topic)));
        // Every partition of the topic (the pipeline's 3), each labelled with its group.
        expect(order.map((v) => v.labels.partition).sort()).toEqual(['0', '1', '2']);
        for (const v of lag!.values) {
          expect(String(v.labels.group)).toMatch(group);
          expect(v.value).toBe(0);
        }
      });
    }
  });
});
