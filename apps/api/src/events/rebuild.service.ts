import { Injectable } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity, transaction, type Tx } from '@tidings/db';
import { DataSource } from 'typeorm';
import { applyMessageEvent, type MessageState } from '../messages/message.fold';
import { applyOrderEvent, type OrderState } from '../orders/order.fold';

export interface ProjectionDifference {
  table: 'orders' | 'messages';
  id: string;
  /** Columns whose values differ; every column when the row exists on one side only. */
  columns: string[];
  live: Record<string, unknown> | null;
  rebuilt: Record<string, unknown> | null;
}

export interface RebuildReport {
  events: number;
  orders: number;
  messages: number;
  /** Rows where the live projection and the log disagree (at most MAX_REPORTED_DIFFERENCES are listed). */
  differenceCount: number;
  differences: ProjectionDifference[];
  /** Whether the live tables were replaced by the rebuilt ones. */
  applied: boolean;
}

// Reading 5,000 events and writing 500 rows per statement keeps memory flat and statements well under
// Postgres' 65,535 bind-parameter limit (orders bind 17 per row).
const READ_BATCH = 5_000;
const WRITE_BATCH = 500;
const MAX_REPORTED_DIFFERENCES = 100;

const ORDER_COLUMNS = [
  'id',
  'tenant_id',
  'customer_id',
  'currency',
  'items',
  'total_minor',
  'status',
  'notes',
  'metadata',
  'payment_reference',
  'carrier',
  'tracking_number',
  'cancel_reason',
  'version',
  'created_at',
  'updated_at',
  'deleted_at',
];
const orderRow = (o: OrderState): unknown[] => [
  o.id,
  o.tenantId,
  o.customerId,
  o.currency,
  JSON.stringify(o.items),
  o.totalMinor,
  o.status,
  o.notes,
  JSON.stringify(o.metadata),
  o.paymentReference,
  o.carrier,
  o.trackingNumber,
  o.cancelReason,
  o.version,
  o.createdAt,
  o.updatedAt,
  o.deletedAt,
];

const MESSAGE_COLUMNS = [
  'id',
  'tenant_id',
  'sender',
  'channel',
  'body',
  'metadata',
  'version',
  'created_at',
  'deleted_at',
];
const messageRow = (m: MessageState): unknown[] => [
  m.id,
  m.tenantId,
  m.from,
  m.channel,
  m.body,
  JSON.stringify(m.metadata),
  m.version,
  m.createdAt,
  m.deletedAt,
];

/**
 * Rebuilds the orders and messages projections from the event log alone: every resource's events are
 * folded in sequence order (the same folds `GET /orders/:id?asOf=` uses) into session-private temporary
 * tables `orders_rebuild` / `messages_rebuild`, which are then compared with the live tables field by field.
 *
 * - Check (default): runs in one REPEATABLE READ snapshot, so the log and the projections it compares are
 *   the same committed state even while the API keeps writing (a mutation commits its row and its event
 *   together). Changes nothing.
 * - Apply: first takes EXCLUSIVE locks on `orders` and `messages` (mutations wait; reads continue), then
 *   replaces both tables' contents with the rebuilt rows in the same transaction: readers see the old or
 *   the new projection, never a mix, and a failure leaves the live tables untouched.
 *
 * A contradictory log (a sequence gap, an event before its resource's creation) aborts the rebuild.
 */
@Injectable()
export class RebuildService {
  constructor(private readonly ds: DataSource) {}

  /** `readBatch` exists for tests, which use tiny batches so resources straddle page boundaries. */
  run(options: { apply?: boolean; readBatch?: number } = {}): Promise<RebuildReport> {
    const apply = options.apply ?? false;
    const readBatch = options.readBatch ?? READ_BATCH;
    return transaction(
      this.ds,
      async (tx) => {
        if (apply) await tx.query('LOCK TABLE orders, messages IN EXCLUSIVE MODE');
        await tx.query(
          'CREATE TEMPORARY TABLE orders_rebuild (LIKE orders INCLUDING DEFAULTS) ON COMMIT DROP',
        );
        await tx.query(
          'CREATE TEMPORARY TABLE messages_rebuild (LIKE messages INCLUDING DEFAULTS) ON COMMIT DROP',
        );
        const counts = await this.replay(tx, readBatch);
        const { count, differences } = await this.compare(tx);
        if (apply) {
          // DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe for concurrent snapshot readers.
          await tx.query('DELETE FROM orders');
          await tx.query('INSERT INTO orders SELECT * FROM orders_rebuild');
          await tx.query('DELETE FROM messages');
          await tx.query('INSERT INTO messages SELECT * FROM messages_rebuild');
        }
        return { ...counts, differenceCount: count, differences, applied: apply };
      },
      // Apply holds locks that make READ COMMITTED consistent; check relies on one snapshot instead.
      apply ? 'READ COMMITTED' : 'REPEATABLE READ',
    );
  }

  /** Streams the log by (resource_type, resource_id, sequence), its unique index, folding one resource at a time. */
  private async replay(
    tx: Tx,
    readBatch: number,
  ): Promise<{ events: number; orders: number; messages: number }> {
    const orders: OrderState[] = [];
    const messages: MessageState[] = [];
    const counts = { events: 0, orders: 0, messages: 0 };
    let order: OrderState | null = null;
    let message: MessageState | null = null;

    const write = async (force: boolean) => {
      if (order) orders.push(order);
      if (message) messages.push(message);
      order = null;
      message = null;
      if (force || orders.length >= WRITE_BATCH) {
        counts.orders += await this.insert(
          tx,
          'orders_rebuild',
          ORDER_COLUMNS,
          orders.splice(0).map(orderRow),
        );
      }
      if (force || messages.length >= WRITE_BATCH) {
        counts.messages += await this.insert(
          tx,
          'messages_rebuild',
          MESSAGE_COLUMNS,
          messages.splice(0).map(messageRow),
        );
      }
    };

    let cursor = { type: '', id: '', sequence: 0 };
    for (;;) {
      const rows = await tx
        .getRepository(EventLogEntity)
        .createQueryBuilder('e')
        .where(`e.resourceType IN ('order', 'message')`)
        .andWhere('(e.resourceType, e.resourceId, e.sequence) > (:type, :id, :sequence)', cursor)
        .orderBy('e.resourceType', 'ASC')
        .addOrderBy('e.resourceId', 'ASC')
        .addOrderBy('e.sequence', 'ASC')
        .limit(readBatch)
        .getMany();
      for (const row of rows) {
        if (row.resourceType !== cursor.type || row.resourceId !== cursor.id) await write(false);
        const event = envelopeFromLogRow(row);
        if (event.resourceType === 'order') order = applyOrderEvent(order, event);
        else message = applyMessageEvent(message, event);
        counts.events += 1;
        cursor = { type: row.resourceType, id: row.resourceId, sequence: row.sequence };
      }
      if (rows.length < readBatch) break;
    }
    await write(true);
    return counts;
  }

  private async insert(tx: Tx, table: string, columns: string[], rows: unknown[][]): Promise<number> {
    if (rows.length === 0) return 0;
    const values = rows.map(
      (row, r) => `(${row.map((_, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
    );
    await tx.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}`, rows.flat());
    return rows.length;
  }

  /** Field-by-field comparison of whole rows (as jsonb, so every column counts, including version and timestamps). */
  private async compare(tx: Tx): Promise<{ count: number; differences: ProjectionDifference[] }> {
    const differences: ProjectionDifference[] = [];
    let count = 0;
    for (const table of ['orders', 'messages'] as const) {
      const rows: {
        id: string;
        live: Record<string, unknown> | null;
        rebuilt: Record<string, unknown> | null;
        total: string;
      }[] = await tx.query(
        `SELECT coalesce(l.id, r.id) AS id, to_jsonb(l) AS live, to_jsonb(r) AS rebuilt, count(*) OVER () AS total
             FROM ${table} l FULL JOIN ${table}_rebuild r ON r.id = l.id
            WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r)
            ORDER BY 1
            LIMIT ${MAX_REPORTED_DIFFERENCES}`,
      );
      count += rows.length > 0 ? Number(rows[0].total) : 0;
      for (const row of rows) {
        if (differences.length >= MAX_REPORTED_DIFFERENCES) break;
        const keys = Object.keys(row.live ?? row.rebuilt ?? {});
        differences.push({
          table,
          id: row.id,
          columns:
            row.live && row.rebuilt
              ? keys.filter((k) => JSON.stringify(row.live![k]) !== JSON.stringify(row.rebuilt![k]))
              : keys,
          live: row.live,
          rebuilt: row.rebuilt,
        });
      }
    }
    return { count, differences };
  }
}

/**
 * The `rebuild [--apply]` CLI subcommand: prints the report as JSON and returns the exit code — 0 when the
 * live projection equals the log (or was just replaced by it), 1 when a check found differences, 2 on bad
 * arguments.
 */
export async function rebuildCommand(
  ds: DataSource,
  args: string[],
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const unknown = args.filter((a) => a !== '--apply');
  if (unknown.length > 0) {
    write(`usage: rebuild [--apply]  (unknown argument ${unknown[0]})`);
    return 64;
  }
  const report = await new RebuildService(ds).run({ apply: args.includes('--apply') });
  // The summary goes to stderr so stdout stays one JSON document, for scripts.
  process.stderr.write(
    `rebuilt ${report.orders} orders and ${report.messages} messages from ${report.events} events; ` +
      `${report.differenceCount} differences from the live projection` +
      `${report.applied ? '; live projection replaced' : ''}\n`,
  );
  write(JSON.stringify(report, null, 2));
  return report.applied || report.differenceCount === 0 ? 0 : 1;
}
