import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { EventEnvelopeOf, ResourceEventType } from '@tidings/events';
import type { Pool } from 'pg';

export const PG_POOL = Symbol('PG_POOL');

/**
 * The warehouse's side of an order: every order event it saw (once each, keyed by `eventId`) and one pickup per
 * shipped order. Tidings delivers at least once, so every write here is idempotent: a redelivered event (after a
 * crash, a rebalance or a relay republish) inserts nothing.
 */
@Injectable()
export class ShipmentsService implements OnApplicationShutdown {
  constructor(@Inject(PG_POOL) private readonly pg: Pool) {}

  /** The warehouse's own tables; a real service would keep them in its migrations. */
  async createTables(): Promise<void> {
    await this.pg.query(`
      CREATE TABLE IF NOT EXISTS warehouse_order_events (
        event_id uuid PRIMARY KEY,
        order_id text NOT NULL,
        sequence integer NOT NULL,
        event_type text NOT NULL,
        applied_at bigserial
      );
      CREATE TABLE IF NOT EXISTS warehouse_pickups (
        order_id text PRIMARY KEY,
        carrier text,
        tracking_number text,
        event_id uuid NOT NULL
      )`);
  }

  /** Records an order event once; false when it was already recorded (a redelivery). */
  async record(event: EventEnvelopeOf<ResourceEventType<'order'>>): Promise<boolean> {
    const { rowCount } = await this.pg.query(
      `INSERT INTO warehouse_order_events (event_id, order_id, sequence, event_type) VALUES ($1, $2, $3, $4)
       ON CONFLICT (event_id) DO NOTHING`,
      [event.eventId, event.resourceId, event.sequence, event.eventType],
    );
    return rowCount === 1;
  }

  /** Books the carrier pickup of a shipped order, once per order. */
  async bookPickup(event: EventEnvelopeOf<'order.shipped', 1>): Promise<void> {
    await this.pg.query(
      `INSERT INTO warehouse_pickups (order_id, carrier, tracking_number, event_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (order_id) DO NOTHING`,
      [event.data.orderId, event.data.carrier ?? null, event.data.trackingNumber ?? null, event.eventId],
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pg.end();
  }
}
