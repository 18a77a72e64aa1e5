import { Injectable } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity, transaction, type Tx } from '@tidings/db';
import { DataSource } from 'typeorm';
import { MESSAGE } from '../messages/message.resource';
import { ORDER } from '../orders/order.resource';
import type { BaseState, Resource } from './resource';

/** The resources whose projections are folds of the log (each defined once with the aggregate kit). */
// Each resource only ever gets its own states back, so the list may forget their types.
export const REBUILT = [ORDER, MESSAGE] as unknown as readonly Resource[];

export interface ProjectionDifference {
  /** The projection's table (`orders`, `messages`, …). */
  table: string;
  id: string;
  /** Columns whose values differ; every column when the row exists on one side only. */
  columns: string[];
  live: Record<string, unknown> | null;
  rebuilt: Record<string, unknown> | null;
}

export interface RebuildReport {
  events: number;
  /** Rows where the live projection and the log disagree (at most MAX_REPORTED_DIFFERENCES are listed). */
  differenceCount: number;
  differences: ProjectionDifference[];
  /** Whether the live tables were replaced by the rebuilt ones. */
  applied: boolean;
  /** Rebuilt rows per projection table, e.g. `orders: 16`. */
  [table: string]: number | boolean | ProjectionDifference[];
}

// Reading 5,000 events and writing 500 rows per statement keeps memory flat and statements well under
// Postgres' 65,535 bind-parameter limit (orders bind 17 per row).
const READ_BATCH = 5_000;
const WRITE_BATCH = 500;
const MAX_REPORTED_DIFFERENCES = 100;

/**
 * Rebuilds every projection in REBUILT (orders, messages, …) from the event log alone: every resource's
 * events are folded in sequence order (the fold its mutations write the row with, and `asOf` reads) into
 * session-private temporary tables `<table>_rebuild`, which are then compared with the live tables field by
 * field.
 *
 * - Check (default): runs in one REPEATABLE READ snapshot, so the log and the projections it compares are
 *   the same committed state even while the API keeps writing (a mutation commits its row and its event
 *   together). Changes nothing.
 * - Apply: first takes EXCLUSIVE locks on the projection tables (mutations wait; reads continue), then
 *   replaces their contents with the rebuilt rows in the same transaction: readers see the old or the new
 *   projection, never a mix, and a failure leaves the live tables untouched.
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
    const tables = REBUILT.map((r) => r.table);
    return transaction(
      this.ds,
      async (tx) => {
        if (apply) await tx.query(`LOCK TABLE ${tables.join(', ')} IN EXCLUSIVE MODE`);
        for (const table of tables) {
          await tx.query(
            `CREATE TEMPORARY TABLE ${table}_rebuild (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`,
          );
        }
        const counts = await this.replay(tx, readBatch);
        const { count, differences } = await this.compare(tx, tables);
        if (apply) {
          for (const table of tables) {
            // DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe for concurrent snapshot readers.
            await tx.query(`DELETE FROM ${table}`);
            await tx.query(`INSERT INTO ${table} SELECT * FROM ${table}_rebuild`);
          }
        }
        const report: RebuildReport = {
          ...counts,
          events: counts.events,
          differenceCount: count,
          differences,
          applied: apply,
        };
        return report;
      },
      // Apply holds locks that make READ COMMITTED consistent; check relies on one snapshot instead.
      apply ? 'READ COMMITTED' : 'REPEATABLE READ',
    );
  }

  /** Streams the log by (resource_type, resource_id, sequence), its unique index, folding one resource at a time. */
  private async replay(tx: Tx, readBatch: number): Promise<Record<string, number>> {
    const byType = new Map(REBUILT.map((r) => [r.type, r]));
    const pending = new Map<Resource, BaseState[]>(REBUILT.map((r) => [r, []]));
    const counts: Record<string, number> = {
      events: 0,
      ...Object.fromEntries(REBUILT.map((r) => [r.table, 0])),
    };
    let current: { resource: Resource; state: BaseState | null } | null = null;

    const flush = async (resource: Resource, force: boolean) => {
      const rows = pending.get(resource)!;
      if (force || rows.length >= WRITE_BATCH) {
        counts[resource.table] += await this.insert(tx, resource, rows.splice(0));
      }
    };
    const write = async (force: boolean) => {
      if (current?.state) pending.get(current.resource)!.push(current.state);
      current = null;
      for (const resource of REBUILT) await flush(resource, force);
    };

    let cursor = { type: '', id: '', sequence: 0 };
    for (;;) {
      const rows = await tx
        .getRepository(EventLogEntity)
        .createQueryBuilder('e')
        .where('e.resourceType IN (:...types)', { types: [...byType.keys()] })
        .andWhere('(e.resourceType, e.resourceId, e.sequence) > (:type, :id, :sequence)', cursor)
        .orderBy('e.resourceType', 'ASC')
        .addOrderBy('e.resourceId', 'ASC')
        .addOrderBy('e.sequence', 'ASC')
        .limit(readBatch)
        .getMany();
      for (const row of rows) {
        if (row.resourceType !== cursor.type || row.resourceId !== cursor.id) {
          await write(false);
          current = { resource: byType.get(row.resourceType)!, state: null };
        }
        current!.state = current!.resource.applyEvent(current!.state, envelopeFromLogRow(row));
        counts.events += 1;
        cursor = { type: row.resourceType, id: row.resourceId, sequence: row.sequence };
      }
      if (rows.length < readBatch) break;
    }
    await write(true);
    return counts;
  }

  private async insert(tx: Tx, resource: Resource, states: BaseState[]): Promise<number> {
    if (states.length === 0) return 0;
    const columns = resource.columns.map((c) => c.column);
    const values = states.map(
      (_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
    );
    await tx.query(
      `INSERT INTO ${resource.table}_rebuild (${columns.join(', ')}) VALUES ${values.join(', ')}`,
      states.flatMap((s) => resource.toParams(s)),
    );
    return states.length;
  }

  /** Field-by-field comparison of whole rows (as jsonb, so every column counts, including version and timestamps). */
  private async compare(
    tx: Tx,
    tables: string[],
  ): Promise<{ count: number; differences: ProjectionDifference[] }> {
    const differences: ProjectionDifference[] = [];
    let count = 0;
    for (const table of tables) {
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
    `rebuilt ${REBUILT.map((r) => `${Number(report[r.table])} ${r.table}`).join(' and ')} from ${report.events} events; ` +
      `${report.differenceCount} differences from the live projection` +
      `${report.applied ? '; live projection replaced' : ''}\n`,
  );
  write(JSON.stringify(report, null, 2));
  return report.applied || report.differenceCount === 0 ? 0 : 1;
}
