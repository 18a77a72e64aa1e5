import { context, ROOT_CONTEXT, trace, type ProxyTracerProvider } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseConfig, runtimeConfigSchema } from './runtime.config';
import { otlpTracesUrl, registerTracing, startSpan, startTracing, tracingStarted } from './tracing';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const config = (env: Record<string, string> = {}) => parseConfig(runtimeConfigSchema, env);

describe('tracing off (the default)', () => {
  it('starts nothing: no tracer provider, no context manager, no exporter', async () => {
    expect(await startTracing(config(), 'api')).toBeNull();
    expect(tracingStarted()).toBe(false);
    expect((trace.getTracerProvider() as ProxyTracerProvider).getDelegate().constructor.name).toBe(
      'NoopTracerProvider',
    );
    // With no context manager, nothing is carried: `with` does not even set the active context.
    const span = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => context.active())).toBe(ROOT_CONTEXT);
  });

  it('passes a valid parent on as it is, and drops an invalid one', () => {
    expect(startSpan('x', { parent: TP }).traceparent).toBe(TP);
    for (const bad of [
      'not-a-trace',
      `ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01',
      undefined,
    ])
      expect(startSpan('x', { parent: bad }).traceparent).toBeUndefined();
  });

  it('is on only when asked for with the standard variables', () => {
    expect(otlpTracesUrl(config())).toBeNull();
    expect(otlpTracesUrl(config({ OTEL_TRACES_EXPORTER: 'otlp' }))).toBe('http://localhost:4318/v1/traces');
    expect(otlpTracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }))).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      otlpTracesUrl(
        config({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/traces',
        }),
      ),
    ).toBe('http://other:4318/traces');
    expect(
      otlpTracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })),
    ).toBeNull();
    expect(
      otlpTracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })),
    ).toBeNull();
    expect(() => config({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
  });
});

describe('tracing on', () => {
  it('records child spans in the parent trace until released', async () => {
    const exporter = new InMemorySpanExporter();
    const release = registerTracing({ exporter, serviceName: 'test', simple: true });
    expect(tracingStarted()).toBe(true);
    const parent = startSpan('parent', { parent: TP });
    expect(parent.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(parent.traceparent).not.toBe(TP);
    const child = startSpan('child', { parent: parent.traceparent, links: [TP, 'garbage'] });
    child.end(new Error('boom'));
    child.end();
    parent.end();
    const [c, p] = exporter.getFinishedSpans();
    expect(c.parentSpanContext?.spanId).toBe(p.spanContext().spanId);
    expect(p.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(c.status.message).toBe('boom');
    expect(c.links.map((l) => l.context.spanId)).toEqual(['00f067aa0ba902b7']);
    await release();
    expect(tracingStarted()).toBe(false);
    expect(startSpan('x', { parent: TP }).traceparent).toBe(TP);
  });
});
