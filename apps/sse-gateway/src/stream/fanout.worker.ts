/**
 * The gateway's one fan-out loop: Kafka → connected SSE clients, in each tenant's position order.
 *
 * Ordering: every instance consumes ALL partitions of every event topic with a consumer group of its own
 * (so each instance sees every event). Positions are dense per tenant (1, 2, 3… for each tenant), so each
 * tenant has its own reorder buffer, which emits that tenant's position `next`, `next + 1`, … and nothing
 * else; tenants never wait for each other. A position known to exist (a later one of the tenant arrived from
 * Kafka, or the tenant's head in tenant_positions has moved past it) that Kafka has not delivered within
 * SSE_GAP_FILL_MS is read from event_log: the relay positions and commits before it publishes, so every
 * position ≤ a published or committed one of the tenant is in the log. Emission is therefore dense, gap-free
 * and in position order per tenant, which keeps per-resource sequence order (invariant 4).
 * Idempotency: dedupe key = (tenant, position); anything below the tenant's `next` (a Kafka redelivery, or a
 * position already filled from the log) is dropped, so each event is emitted exactly once per instance.
 * Start: each tenant's `next` = its head at start + 1 (1 for a tenant with no events yet) — clients that need
 * older events replay them from the log.
 * Broker away (at boot or later): the consumer reconnects in the background; meanwhile the head probe keeps
 * finding new positions and the gap fill reads them from the log, so live streams continue (at the
 * SSE_GAP_FILL_MS pace) and Kafka copies that arrive later are below `next` and dropped: no gap, no duplicate.
 * Cost: the head probe reads one tenant_positions row per tenant each SSE_GAP_FILL_MS.
 * Wiring: the consumer is the Tidings transport (`FanoutTransport`, handlers in `FanoutConsumer`), which
 * createApp starts after this worker's bootstrap has read the start heads; the gap fill is an interval of the
 * SchedulerRegistry. Shutdown (three steps): stop taking work (ScheduleModule clears the gap-fill interval
 * before the transport closes), finish what it holds (the in-flight handler completes as the transport
 * closes), release connections (the consumer leaves its group; the runtime disconnects the Kafka client).
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { EventLogEntity, envelopeFromLogRow } from '@tidings/db';
import { type EventEnvelope } from '@tidings/events';
import { APP_CONFIG, tracingStarted } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import type { SseGatewayConfig } from '../sse-gateway.config';
import { SseMetrics } from './sse.metrics';

/**
 * Pure reorder buffer: accepts positioned events in any order, emits them densely in position order, and
 * says which range is missing and for how long. No I/O, so it is unit-tested on its own.
 */
export class PositionOrder {
  private readonly pending = new Map<number, EventEnvelope>();
  /** Highest position known to exist (from an arrival or a probe of the log's head). */
  private known: number;
  /** When the head of the order last stopped advancing while something beyond it was known. */
  private stalledSince: number | undefined;

  constructor(
    private next: number,
    private readonly emit: (event: EventEnvelope) => void,
  ) {
    this.known = next - 1;
  }

  /** The next position this order will emit. */
  get nextPosition(): number {
    return this.next;
  }

  /** Accepts one event (duplicates and already-emitted positions are ignored) and emits what became due. */
  accept(event: EventEnvelope, now: number): void {
    const position = event.position!;
    if (position < this.next || this.pending.has(position)) return;
    this.pending.set(position, event);
    this.knowUpTo(position, now);
    this.drain(now);
  }

  /** Records that positions up to `position` exist (committed), even if none of them has arrived yet. */
  knowUpTo(position: number, now: number): void {
    if (position > this.known) this.known = position;
    if (this.known >= this.next && this.stalledSince === undefined) this.stalledSince = now;
  }

  /** The missing range to read from the log, once the order has been stalled for at least `waitMs`. */
  overdue(now: number, waitMs: number): { from: number; to: number } | undefined {
    if (this.stalledSince === undefined || now - this.stalledSince < waitMs) return undefined;
    let to = this.next;
    while (to < this.known && !this.pending.has(to + 1)) to++;
    return { from: this.next, to };
  }

  private drain(now: number): void {
    const before = this.next;
    for (let e = this.pending.get(this.next); e !== undefined; e = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      this.next++;
      this.emit(e);
    }
    if (this.known < this.next) this.stalledSince = undefined;
    else if (this.next !== before) this.stalledSince = now;
  }
}

@Injectable()
export class FanoutWorker implements OnApplicationBootstrap {
  private readonly logger = new Logger(FanoutWorker.name);
  /** One reorder buffer per tenant seen since start. */
  private readonly orders = new Map<string, PositionOrder>();
  /** Each tenant's head when the fan-out started: where a tenant's buffer begins. */
  private startHeads?: Map<string, number>;
  private filling = false;
  private listener: (event: EventEnvelope, traceparent: string | undefined) => void = () => undefined;
  /** Buffered `tenant/position` → the context its send span continues (kept only while tracing is on). */
  private readonly traces = new Map<string, string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: SseGatewayConfig,
    private readonly ds: DataSource,
    private readonly metrics: SseMetrics,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  /** The one receiver of emitted events (the stream service's dispatcher). */
  onEvent(listener: (event: EventEnvelope, traceparent: string | undefined) => void): void {
    this.listener = listener;
  }

  /**
   * The next position of `tenantId` the loop will emit: a client registered now receives every position of
   * its tenant from here.
   */
  nextPosition(tenantId: string): number {
    return this.orderOf(tenantId).nextPosition;
  }

  /** The tenant's highest committed position (0 when it has none). */
  async headPosition(tenantId: string): Promise<number> {
    const [row] = await this.ds.query<{ head: string }[]>(
      'SELECT last_position AS head FROM tenant_positions WHERE tenant_id = $1',
      [tenantId],
    );
    return Number(row?.head ?? 0);
  }

  /** Every tenant's highest committed position. */
  private async heads(): Promise<Map<string, number>> {
    const rows = await this.ds.query<{ tenant_id: string; head: string }[]>(
      'SELECT tenant_id, last_position AS head FROM tenant_positions',
    );
    return new Map(rows.map((r) => [r.tenant_id, Number(r.head)]));
  }

  private orderOf(tenantId: string): PositionOrder {
    if (!this.startHeads) throw new Error('fan-out not started');
    let order = this.orders.get(tenantId);
    if (!order) {
      order = new PositionOrder((this.startHeads.get(tenantId) ?? 0) + 1, (e) => {
        const key = traceKey(e);
        const traceparent = this.traces.get(key);
        if (traceparent !== undefined) this.traces.delete(key);
        this.listener(e, traceparent);
      });
      this.orders.set(tenantId, order);
    }
    return order;
  }

  /** Before the transport starts (createApp): where each tenant's order begins, then the gap fill. */
  async onApplicationBootstrap(): Promise<void> {
    this.startHeads = await this.heads();
    this.scheduler.addInterval(
      'sse-gap-fill',
      setInterval(() => void this.tick(), this.config.SSE_GAP_FILL_MS),
    );
  }

  /** One event consumed from Kafka (any partition), with the trace context of its publish. */
  accept(event: EventEnvelope, traceparent: string | undefined): void {
    const order = this.orderOf(event.tenantId);
    this.remember(order, event, traceparent);
    order.accept(event, Date.now());
  }

  /** Keeps the trace context of a position still to be emitted, for its send span. */
  private remember(order: PositionOrder, event: EventEnvelope, traceparent: string | null | undefined): void {
    if (!traceparent || !tracingStarted() || event.position! < order.nextPosition) return;
    this.traces.set(traceKey(event), traceparent);
  }

  /** Probes every tenant's head and fills each tenant's overdue gap from the log. One tick at a time. */
  private async tick(): Promise<void> {
    if (this.filling || !this.startHeads) return;
    this.filling = true;
    try {
      const heads = await this.heads();
      const now = Date.now();
      for (const [tenantId, head] of heads) {
        // A tenant with nothing new since start needs no buffer.
        if (head > (this.startHeads.get(tenantId) ?? 0)) this.orderOf(tenantId).knowUpTo(head, now);
      }
      for (const [tenantId, order] of this.orders) {
        const gap = order.overdue(Date.now(), this.config.SSE_GAP_FILL_MS);
        if (!gap) continue;
        const rows = await this.ds
          .getRepository(EventLogEntity)
          .createQueryBuilder('e')
          .where('e.tenant_id = :tenantId', { tenantId })
          .andWhere('e.position BETWEEN :from AND :to', {
            from: gap.from,
            to: Math.min(gap.to, gap.from + 999),
          })
          .orderBy('e.position')
          .getMany();
        this.metrics.gapFills.inc(rows.length);
        for (const row of rows) {
          const event = envelopeFromLogRow(row);
          this.remember(order, event, row.traceparent);
          order.accept(event, Date.now());
        }
      }
    } catch (error) {
      this.logger.warn(`gap fill failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.filling = false;
    }
  }
}

function traceKey(e: EventEnvelope): string {
  return `${e.tenantId}/${e.position}`;
}
