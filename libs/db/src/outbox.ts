import type { EventEnvelope } from '@tidings/events';
import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import type { EventLogEntity } from './entities';

declare const txBrand: unique symbol;

/**
 * An EntityManager that is known to run inside a transaction. Only `transaction()` hands one out, so
 * functions that take a `Tx` (like `appendEvent`) cannot be called outside a transaction.
 */
export type Tx = EntityManager & { readonly [txBrand]: true };

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** The event types each open transaction appended: its commit wakes the relays and tells `onEventsCommitted`. */
const appended = new WeakMap<EntityManager, string[]>();

export async function transaction<T>(
  ds: DataSource,
  work: (tx: Tx) => Promise<T>,
  isolation: IsolationLevel = 'READ COMMITTED',
): Promise<T> {
  let manager: EntityManager | undefined;
  const run = (em: EntityManager) => {
    manager = em;
    return work(em as Tx);
  };
  // READ COMMITTED is PostgreSQL's default: TypeORM would spend a second round trip (SET TRANSACTION …) on it.
  const result = await (isolation === 'READ COMMITTED'
    ? ds.transaction(run)
    : ds.transaction(isolation, run));
  const types = manager && appended.get(manager);
  if (types) committed(ds, types);
  return result;
}

type CommitListener = (eventTypes: readonly string[]) => void;

const listeners = new WeakMap<DataSource, CommitListener[]>();

/**
 * Calls `listener` with the event types of every commit on `ds` that appended events (`transaction()` with
 * `appendEvent`, or `writeWithEvent`), once the commit has succeeded; a rolled-back transaction never calls it.
 */
export function onEventsCommitted(ds: DataSource, listener: CommitListener): void {
  listeners.set(ds, [...(listeners.get(ds) ?? []), listener]);
}

function committed(ds: DataSource, eventTypes: readonly string[]): void {
  wakeRelays(ds);
  for (const listener of listeners.get(ds) ?? []) listener(eventTypes);
}

/** The channel a commit that appended events notifies, and every relay listens on. */
export const OUTBOX_CHANNEL = 'tidings_outbox';

/**
 * A hint, never a guarantee: relays also probe the outbox every RELAY_IDLE_POLL_MS, so a lost notification
 * (the writer died right after COMMIT, the relay's listening connection was down) costs latency, not an event.
 * Sent after the commit in its own statement, not inside the writer's transaction: a transaction that notifies
 * takes a database-wide lock at commit and holds it until its commit is durable, which would serialise every
 * mutation's WAL flush. A notification is not worth a flush, so this statement commits without waiting for the
 * disk (synchronous_commit off for it only).
 */
const NOTIFY_SQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify('${OUTBOX_CHANNEL}', '')`;

/** Per DataSource: at most one NOTIFY in flight; commits while it is in flight share the next one. */
const signals = new WeakMap<DataSource, { pending: boolean; sending: boolean }>();

function wakeRelays(ds: DataSource): void {
  let signal = signals.get(ds);
  if (!signal) signals.set(ds, (signal = { pending: false, sending: false }));
  signal.pending = true;
  if (signal.sending) return;
  signal.sending = true;
  void (async () => {
    while (signal.pending && ds.isInitialized) {
      signal.pending = false;
      await ds.query(NOTIFY_SQL).catch(() => undefined);
    }
    signal.sending = false;
  })();
}

export class NoTransactionError extends Error {
  constructor() {
    super('appendEvent must run inside a transaction (use transaction(ds, tx => ...))');
  }
}

/**
 * Appends an event to the permanent event log and to the relay's outbox, in the caller's transaction:
 * the domain change and its event commit together or not at all (DESIGN.md §2.1). The event must already be
 * validated (build it with `buildEvent` from @tidings/events); `position` is left for the relay to assign.
 */
export async function appendEvent(tx: Tx, event: EventEnvelope, traceparent?: string): Promise<void> {
  if (!tx.queryRunner?.isTransactionActive) throw new NoTransactionError();
  const append = appendCtes(event, traceparent, 1);
  await tx.query(`WITH ${append.sql} SELECT`, append.params);
  appendedIn(tx, event);
}

/** A row's write (an INSERT or UPDATE … RETURNING, parameters from $1) to run together with its event. */
export interface RowWrite {
  sql: string;
  params: unknown[];
}

/**
 * Writes a row and appends its event (event log and outbox) in ONE statement, and returns the rows the write
 * returned. On the DataSource, that statement is its own transaction: the row and its event commit together
 * or not at all (DESIGN.md §2.1) in one round trip, where BEGIN, the row, the event and COMMIT take four.
 * In a transaction (`tx`), it is part of it, like `appendEvent`.
 */
export async function writeWithEvent<Row = Record<string, unknown>>(
  on: DataSource | Tx,
  write: RowWrite,
  event: EventEnvelope,
  traceparent?: string,
): Promise<Row[]> {
  if (!(on instanceof DataSource) && !on.queryRunner?.isTransactionActive) throw new NoTransactionError();
  const append = appendCtes(event, traceparent, write.params.length + 1);
  const rows = await prepared<Row>(
    on,
    `WITH tidings_row AS (${write.sql}), ${append.sql} SELECT * FROM tidings_row`,
    [...write.params, ...append.params],
  );
  if (on instanceof DataSource) committed(on, [event.eventType]);
  else appendedIn(on, event);
  return rows;
}

const statementNames = new Map<string, string>();

/**
 * Runs `sql` as a named prepared statement on the pg connection itself (the pool's for the DataSource, the
 * transaction's own for a `Tx`): each connection parses and plans it once, later runs send only its parameters.
 * The name is derived from the text, so one text is one statement on every connection. For the dispatcher's
 * statements built of CTEs over `unnest` arrays, planning cost more than executing (docs/benchmarks.md,
 * "Postgres per event"). Answers the rows (an UPDATE's RETURNING rows, not TypeORM's [rows, count]).
 */
export async function prepared<Row>(on: DataSource | Tx, sql: string, params: unknown[]): Promise<Row[]> {
  let name = statementNames.get(sql);
  if (!name) {
    name = `tidings_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  // TypeORM's query() cannot name a statement: the pg pool behind the DataSource (its driver's `master`) can.
  const client =
    on instanceof DataSource
      ? (on.driver as unknown as { master: Pool }).master
      : ((await on.queryRunner!.connect()) as PoolClient);
  const { rows } = await client.query<Row & QueryResultRow>({ name, text: sql, values: params });
  return rows;
}

function appendedIn(tx: Tx, event: EventEnvelope): void {
  const types = appended.get(tx);
  if (types) types.push(event.eventType);
  else appended.set(tx, [event.eventType]);
}

/** The event_log row and its outbox row as two data-modifying CTEs, their parameters numbered from `from`. */
function appendCtes(
  event: EventEnvelope,
  traceparent: string | undefined,
  from: number,
): { sql: string; params: unknown[] } {
  const params = [
    event.eventId,
    event.tenantId,
    event.eventType,
    event.version,
    event.resourceType,
    event.resourceId,
    event.sequence,
    event.source,
    event.timestamp,
    JSON.stringify(event.data),
    traceparent ?? null,
  ];
  const values = params.map((_, i) => `$${from + i}`).join(', ');
  return {
    sql: `tidings_event AS (
       INSERT INTO event_log (event_id, tenant_id, event_type, version, resource_type, resource_id, sequence,
                              source, occurred_at, data, traceparent)
       VALUES (${values})
       RETURNING id, tenant_id
     ),
     tidings_outbox AS (
       INSERT INTO outbox (event_log_id, tenant_id, shard)
       SELECT id, tenant_id, tidings_shard(tenant_id) FROM tidings_event
     )`,
    params,
  };
}

/** Renders a stored event as the envelope every transport carries (DESIGN.md §3). */
export function envelopeFromLogRow(row: EventLogEntity): EventEnvelope {
  return {
    eventId: row.eventId,
    eventType: row.eventType,
    version: row.version,
    timestamp: row.occurredAt.toISOString(),
    source: row.source,
    tenantId: row.tenantId,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    sequence: row.sequence,
    position: row.position,
    data: row.data,
  };
}

/** The event_log columns as a raw query returns them (bigint as text), for statements that select them. */
export interface RawEventColumns {
  event_id: string;
  tenant_id: string;
  event_type: string;
  version: number;
  resource_type: string;
  resource_id: string;
  sequence: number;
  source: string;
  occurred_at: Date;
  data: unknown;
  position: string | null;
}

/** `envelopeFromLogRow` for a raw row: the same envelope, field for field. */
export function envelopeFromRawRow(row: RawEventColumns): EventEnvelope {
  return envelopeFromLogRow({
    eventId: row.event_id,
    tenantId: row.tenant_id,
    eventType: row.event_type,
    version: row.version,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    sequence: row.sequence,
    source: row.source,
    occurredAt: row.occurred_at,
    data: row.data,
    position: row.position === null ? null : Number(row.position),
  } as EventLogEntity);
}
