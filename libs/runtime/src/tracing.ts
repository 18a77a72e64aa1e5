import {
  type Attributes,
  context,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { isTraceparent } from '@tidings/events';
import type { NextFunction, Request, Response } from 'express';
import type { TracingConfig } from './runtime.config';

export { SpanKind };

/** Where OTLP/HTTP spans go, or null when tracing is off (the default). */
export function otlpTracesUrl(c: TracingConfig): string | null {
  if (c.OTEL_SDK_DISABLED || c.OTEL_TRACES_EXPORTER === 'none') return null;
  if (c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (c.OTEL_EXPORTER_OTLP_ENDPOINT) return `${c.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  // The OTLP/HTTP default endpoint, as the specification gives it.
  return c.OTEL_TRACES_EXPORTER === 'otlp' ? 'http://localhost:4318/v1/traces' : null;
}

const TRACER = 'tidings';
const propagator = new W3CTraceContextPropagator();

/** The provider this process registered, if any: while none is, every helper below is a pass-through. */
let provider: NodeTracerProvider | undefined;
let owners = 0;

/**
 * Registers the global tracer provider (with the AsyncLocalStorage context manager and the W3C propagator)
 * exporting through `exporter`; returns a function that flushes and, for the last owner, shuts it down.
 * Several apps in one process (tests) share the first registration.
 */
export function registerTracing(options: {
  exporter: SpanExporter;
  serviceName: string;
  /** Export each span as it ends (tests); production batches. */
  simple?: boolean;
}): () => Promise<void> {
  if (!provider) {
    const processor: SpanProcessor = options.simple
      ? new SimpleSpanProcessor(options.exporter)
      : new BatchSpanProcessor(options.exporter);
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName }),
      spanProcessors: [processor],
    });
    provider.register({ propagator });
  }
  owners += 1;
  let released = false;
  return async () => {
    if (released || !provider) return;
    released = true;
    owners -= 1;
    await provider.forceFlush();
    if (owners > 0) return;
    const ending = provider;
    provider = undefined;
    await ending.shutdown();
    trace.disable();
    context.disable();
  };
}

/**
 * Boot-time setup of one app: starts the SDK with an OTLP/HTTP exporter when the configuration asks for it,
 * and does nothing at all otherwise (no provider, no context manager, no exporter). Returns the release hook.
 */
export async function startTracing(
  config: TracingConfig,
  app: string,
): Promise<(() => Promise<void>) | null> {
  const url = otlpTracesUrl(config);
  if (url === null) return null;
  // Loaded only when tracing is on: an app that does not trace never loads the exporter.
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return registerTracing({
    exporter: new OTLPTraceExporter({ url }),
    serviceName: config.OTEL_SERVICE_NAME ?? `tidings-${app}`,
  });
}

/** Whether spans are being recorded in this process. */
export function tracingStarted(): boolean {
  return provider !== undefined;
}

/** The context of a valid W3C traceparent (as the W3C propagator reads it), or undefined. */
export function parseTraceparent(value: string | null | undefined): Context | undefined {
  if (!value) return undefined;
  const ctx = propagator.extract(ROOT_CONTEXT, { traceparent: value }, defaultTextMapGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

function traceparentOf(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** A started span, seen through what Tidings needs: the traceparent to hand on, and its end. */
export interface TraceSpan {
  /** The span's own context as a W3C traceparent; with tracing off, the parent's (passed through). */
  readonly traceparent: string | undefined;
  setAttributes(attributes: Attributes): void;
  /** Ends the span (once: later calls do nothing); with an error (or a reason) its status is ERROR. */
  end(error?: unknown): void;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent's W3C traceparent (stored with an event, or sent by a client); invalid values are ignored. */
  parent?: string | null;
  /** Contexts this span is linked to, besides its parent. */
  links?: (string | null | undefined)[];
  attributes?: Attributes;
}

class PassThrough implements TraceSpan {
  constructor(readonly traceparent: string | undefined) {}
  setAttributes(): void {}
  end(): void {}
}

class Recording implements TraceSpan {
  readonly traceparent: string | undefined;
  constructor(
    readonly span: Span,
    readonly ctx: Context,
  ) {
    this.traceparent = traceparentOf(ctx);
  }
  setAttributes(attributes: Attributes): void {
    this.span.setAttributes(attributes);
  }
  private ended = false;
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) {
      if (error instanceof Error) this.span.recordException(error);
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : typeof error === 'string' ? error : 'failed',
      });
    }
    this.span.end();
  }
}

/**
 * Starts a span, child of `parent`. With tracing off nothing is created: the handle passes the parent's
 * (canonical) traceparent on, so the context a client sent still reaches Kafka and the webhook.
 */
export function startSpan(name: string, options: SpanOptions = {}): TraceSpan {
  // Off: one regex test (~50 ns), not the propagator's parse and format (~1.7 µs), on the relay's hot path.
  if (!provider) return new PassThrough(isTraceparent(options.parent) ? options.parent : undefined);
  const parentCtx = parseTraceparent(options.parent);
  const links: Link[] = [];
  for (const l of options.links ?? []) {
    const linked = parseTraceparent(l);
    const sc = linked && trace.getSpanContext(linked);
    if (sc) links.push({ context: sc });
  }
  const base = parentCtx ?? ROOT_CONTEXT;
  const span = trace
    .getTracer(TRACER)
    .startSpan(
      name,
      { kind: options.kind ?? SpanKind.INTERNAL, links, attributes: options.attributes },
      base,
    );
  return new Recording(span, trace.setSpan(base, span));
}

/** Runs `work` in a span (active for anything it calls), ending it with the outcome. */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: TraceSpan) => Promise<T>,
): Promise<T> {
  const span = startSpan(name, options);
  try {
    const result =
      span instanceof Recording ? await context.with(span.ctx, () => work(span)) : await work(span);
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

const REQUEST_SPAN = Symbol('tidings.requestSpan');
type TracedRequest = Request & { [REQUEST_SPAN]?: TraceSpan };

/**
 * The SERVER span of an HTTP request, continuing the client's `traceparent` (an invalid one starts a new
 * trace); named after the route template once it is known, with the response status.
 */
export function traceRequest(req: Request, res: Response, next: NextFunction): void {
  const span = startSpan(`${req.method}`, {
    kind: SpanKind.SERVER,
    parent: req.header('traceparent'),
    attributes: { 'http.request.method': req.method, 'url.path': req.path },
  });
  (req as TracedRequest)[REQUEST_SPAN] = span;
  if (!(span instanceof Recording)) return next();
  res.on('finish', () => {
    const route = (req.route as { path?: string } | undefined)?.path;
    if (route) {
      span.span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route });
    }
    span.setAttributes({ 'http.response.status_code': res.statusCode });
    span.end(res.statusCode >= 500 ? `HTTP ${res.statusCode}` : undefined);
  });
  context.with(span.ctx, next);
}

/** The traceparent the work of a request continues from: its SERVER span's, or the client's when not traced. */
export function requestTraceparent(req: Request): string | undefined {
  const span = (req as TracedRequest)[REQUEST_SPAN];
  if (span) return span.traceparent;
  const ctx = parseTraceparent(req.header('traceparent'));
  return ctx && traceparentOf(ctx);
}
