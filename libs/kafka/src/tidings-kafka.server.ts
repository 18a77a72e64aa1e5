/**
 * Tidings events the Nest way: a `@nestjs/microservices` custom transport over this library's consumer port.
 *
 * Handlers are `@TidingsEvent('order.shipped', { version: 1 })` (or plain `@EventPattern('order.*')`) methods of a
 * controller; each receives the validated envelope rendered at the version it asked for, and `@Ctx()` a
 * `TidingsKafkaContext` (topic, partition, offset, key, headers, traceparent). `{ batch: true }` handlers receive
 * the matching events of a partition's fetched run at once, with a `TidingsKafkaBatchContext`.
 *
 * Guarantees are the port's commit rule (consumer-rule.ts), unchanged: an offset is committed only after every
 * handler matching its event resolved; a record that is not a valid Tidings event (undecodable, unknown type or
 * version), or a handler throwing `PoisonMessageError`, goes to the dead-letter topic and is committed; any other
 * error commits nothing and the same record is handled again after a backoff, so partition order holds. A batch
 * that fails is handled again record by record (batch handlers then get runs of one), which isolates a poison
 * record: handlers must be idempotent (dedupe key: `eventId`). Events no handler matches are committed unread.
 * Unlike Nest's stock Kafka server, a failed handler never commits: its Observable/Promise error is awaited.
 *
 * Start: `listen` checks every pattern and version against the catalogue, then starts the consumer, which connects
 * (and reconnects) in the background. Shutdown: `close` stops fetching, lets the in-flight handler finish, commits
 * and leaves the group.
 */
import {
  type ArgumentsHost,
  applyDecorators,
  Catch,
  type RpcExceptionFilter,
  UseFilters,
} from '@nestjs/common';
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  EventPattern,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import {
  EnvelopeDecodeError,
  type EventEnvelope,
  fromKafkaMessage,
  isKnownEventType,
  isValidEventTypePattern,
  kafkaTraceparent,
  matchesEventType,
  renderAtVersion,
  supportedVersions,
} from '@tidings/events';
import { isObservable, lastValueFrom, type Observable, throwError } from 'rxjs';
import { PoisonMessageError } from './consumer-rule';
import type { Consumer, ConsumerOptions, IncomingMessage, KafkaClient } from './kafka.port';

/** What a handler asks for, beside its pattern: `@TidingsEvent('order.created', { version: 1 })`. */
export interface TidingsEventOptions {
  /** Render the event's data at this version of its type (exact patterns only); default: as published. */
  version?: number;
  /** Receive the matching events of a partition's fetched run as one array (in order). */
  batch?: boolean;
}

/**
 * Lets a handler's own error reach the transport as thrown. Nest's default RPC filter replaces every error by
 * `{ status: 'error' }`, which would make a handler's `PoisonMessageError` indistinguishable from a failure to
 * retry (an unrecognised error is retried, so nothing is lost without it, but poison is then retried forever).
 */
@Catch()
export class KeepHandlerErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * `@EventPattern(pattern, options)` with the handler's errors kept as thrown (see `KeepHandlerErrorFilter`).
 * `pattern` is an event type, a prefix wildcard (`order.*`) or `*`, as for webhook subscriptions.
 */
export function TidingsEvent(pattern: string, options: TidingsEventOptions = {}): MethodDecorator {
  return applyDecorators(EventPattern(pattern, { ...options }), UseFilters(KeepHandlerErrorFilter));
}

/** `@Ctx()` of a single-event handler: where the record came from and what it carried besides the envelope. */
export class TidingsKafkaContext extends BaseRpcContext<[IncomingMessage]> {
  getMessage(): IncomingMessage {
    return this.args[0];
  }
  getTopic(): string {
    return this.args[0].topic;
  }
  getPartition(): number {
    return this.args[0].partition;
  }
  getOffset(): string {
    return this.args[0].offset;
  }
  getKey(): string | null {
    return this.args[0].key;
  }
  getHeaders(): Record<string, string> {
    return this.args[0].headers;
  }
  /** The W3C `traceparent` of the publish (continue the trace from it), when present and valid. */
  getTraceparent(): string | undefined {
    return kafkaTraceparent(this.args[0]);
  }
}

/** `@Ctx()` of a batch handler: the partition's run the events came from, in offset order. */
export class TidingsKafkaBatchContext extends BaseRpcContext<[IncomingMessage[]]> {
  getMessages(): IncomingMessage[] {
    return this.args[0];
  }
  getTopic(): string {
    return this.args[0][0].topic;
  }
  getPartition(): number {
    return this.args[0][0].partition;
  }
  private byEventId?: Map<string, IncomingMessage>;

  /** The record each handed event came from, by `eventId` (for its offset, headers, traceparent). */
  messageOf(eventId: string): IncomingMessage | undefined {
    // Built on first use: a handler looking up every event of a run stays linear in the run's length.
    this.byEventId ??= new Map(this.args[0].map((m) => [m.headers['event-id'], m]));
    return this.byEventId.get(eventId);
  }
}

/** The port's consumer options (group, topics, dead-letter topic, retry, …); the handlers come from Nest. */
export interface TidingsKafkaServerOptions extends Omit<ConsumerOptions, 'handle' | 'handleBatch'> {
  /** The client to consume with; a function when it comes from the app's container (`() => app.get(…)`). */
  kafka: KafkaClient | (() => KafkaClient);
}

interface Route {
  pattern: string;
  version?: number;
  batch: boolean;
  handler: MessageHandler;
}

export class TidingsKafkaServer extends Server implements CustomTransportStrategy {
  private consumer?: Consumer;
  private closing?: Promise<void>;
  private routes: Route[] = [];

  constructor(private readonly options: TidingsKafkaServerOptions) {
    super();
  }

  /** A member of its consumer group (readiness). */
  get connected(): boolean {
    return this.consumer?.connected ?? false;
  }

  listen(callback: (error?: unknown) => void): void {
    this.closing = undefined;
    try {
      this.routes = this.collectRoutes();
    } catch (error) {
      callback(error);
      return;
    }
    const { kafka, ...rest } = this.options;
    const client = typeof kafka === 'function' ? kafka() : kafka;
    this.consumer = client.createConsumer({
      ...rest,
      handle: (message) => this.handle(message),
      handleBatch: this.routes.some((r) => r.batch) ? (messages) => this.handleBatch(messages) : undefined,
    });
    this.consumer.start().then(() => callback(), callback);
  }

  /**
   * Stops the consumer (see the header). Idempotent: an app that must stop consuming before its own shutdown
   * hooks run (Nest closes transports only after them) closes it there, and Nest's later call waits for the same.
   */
  close(): Promise<void> {
    this.closing ??= (this.consumer?.stop() ?? Promise.resolve()).finally(() => {
      this.consumer = undefined;
    });
    return this.closing;
  }

  on(): never {
    throw new Error('TidingsKafkaServer emits no events: readiness is `connected`');
  }

  unwrap<T>(): T {
    if (!this.consumer) throw new Error('TidingsKafkaServer is not listening');
    return this.consumer as T;
  }

  /** Every registered handler (Nest chains handlers of one pattern through `next`), checked against the catalogue. */
  private collectRoutes(): Route[] {
    const routes: Route[] = [];
    for (const [pattern, head] of this.getHandlers()) {
      if (!isValidEventTypePattern(pattern))
        throw new Error(`@EventPattern('${pattern}') matches no event type of the catalogue`);
      for (let h: MessageHandler | undefined = head; h; h = h.next) {
        if (!h.isEventHandler)
          throw new Error(
            `@MessagePattern('${pattern}'): Tidings topics carry events, there is no one to reply to`,
          );
        const { version, batch } = (h.extras ?? {}) as TidingsEventOptions;
        if (
          version !== undefined &&
          !(isKnownEventType(pattern) && supportedVersions(pattern).includes(version))
        )
          throw new Error(
            `@EventPattern('${pattern}', { version: ${version} }): a version needs an exact type that has it`,
          );
        routes.push({ pattern, version, batch: batch === true, handler: h });
      }
    }
    return routes;
  }

  private routesFor(type: string | undefined): Route[] {
    return type === undefined ? [] : this.routes.filter((r) => matchesEventType(r.pattern, type));
  }

  /** One record: every matching handler in registration order (batch handlers get a run of one). */
  private async handle(message: IncomingMessage): Promise<void> {
    const routes = this.routesFor(this.typeOf(message));
    if (routes.length === 0) return;
    const event = decode(message);
    for (const route of this.routesFor(event.eventType)) {
      const rendered = render(event, route.version);
      await this.invoke(
        route,
        route.batch ? [rendered] : rendered,
        route.batch ? new TidingsKafkaBatchContext([[message]]) : new TidingsKafkaContext([message]),
      );
    }
  }

  /**
   * A partition's run: batch handlers get their matching events at once, single-event handlers each one in
   * order. Any throw makes the port hand the run to `handle` record by record.
   */
  private async handleBatch(messages: IncomingMessage[]): Promise<void> {
    const relevant = messages.filter((m) => this.routesFor(this.typeOf(m)).length > 0);
    if (relevant.length === 0) return;
    const events = relevant.map(decode);
    const context = new TidingsKafkaBatchContext([relevant]);
    for (const route of this.routes.filter((r) => r.batch)) {
      const matching = events
        .filter((e) => matchesEventType(route.pattern, e.eventType))
        .map((e) => render(e, route.version));
      if (matching.length > 0) await this.invoke(route, matching, context);
    }
    for (let i = 0; i < events.length; i++)
      for (const route of this.routesFor(events[i].eventType).filter((r) => !r.batch)) {
        await this.invoke(route, render(events[i], route.version), new TidingsKafkaContext([relevant[i]]));
      }
  }

  /** The record's event type from its header, without parsing the value; decoded when the header is absent. */
  private typeOf(message: IncomingMessage): string | undefined {
    return message.headers['event-type'] ?? decode(message).eventType;
  }

  /** Calls a Nest handler and waits for it, whether it returned a value, a Promise or an Observable. */
  private async invoke(route: Route, payload: unknown, context: BaseRpcContext): Promise<void> {
    const result: unknown = await route.handler(payload, context);
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }
}

/** A record that is not a valid Tidings event can never be handled: poison (dead-lettered, then committed). */
function decode(message: IncomingMessage): EventEnvelope {
  try {
    return fromKafkaMessage(message);
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) throw new PoisonMessageError(error.message, error);
    throw error;
  }
}

/** The event at the handler's version; data the casters cannot convert is poison like undecodable data. */
function render(event: EventEnvelope, version: number | undefined): EventEnvelope {
  if (version === undefined) return event;
  try {
    return renderAtVersion(event, version);
  } catch (error) {
    throw new PoisonMessageError(error instanceof Error ? error.message : String(error), error);
  }
}
