import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { registerTracing } from '@tidings/runtime';
import type { TestApi } from './support/api-app';
import { eventually } from './support/eventually';
import { startPipeline, type Pipeline } from './support/pipeline';
import { SseClient } from './support/sse-client';
import { createTenant, type TestTenant } from './support/tenant';

/**
 * One trace from the client's request to the subscriber's: api, relay, dispatcher and gateway in-process on real
 * Postgres and Kafka, with spans exported to memory through the runtime's tracing module.
 */
const exporter = new InMemorySpanExporter();
let release: () => Promise<void>;
let pipeline: Pipeline;
let api: TestApi;
let gatewayUrl: string;
let tenant: TestTenant;

beforeAll(async () => {
  release = registerTracing({ exporter, serviceName: 'tidings-test', simple: true });
  pipeline = await startPipeline();
  api = await pipeline.startApi();
  await pipeline.startRelay();
  await pipeline.startDispatcher();
  gatewayUrl = (await pipeline.startGateway()).url;
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
    body: JSON.stringify({
      customerId: 'cus_1',
      currency: 'EUR',
      items: [{ sku: 'a', quantity: 1, unitPriceMinor: 100 }],
    }),
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
    body: JSON.stringify({
      customerId: 'cus_2',
      currency: 'EUR',
      items: [{ sku: 'a', quantity: 1, unitPriceMinor: 100 }],
    }),
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
