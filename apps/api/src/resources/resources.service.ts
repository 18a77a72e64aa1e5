import { Injectable } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity, type Tx, writeWithEvent } from '@tidings/db';
import { buildEvent, type EventEnvelope, type TypedEvent } from '@tidings/events';
import { inSpan, NotFoundProblem, PreconditionFailedProblem } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import type { TenantCtx } from '../auth/tenant.decorator';
import { decodeTimeCursor, encodeTimeCursor } from '../http/cursor';
import type { MutationRequest } from '../http/request.decorator';
import { IdempotencyService, type Outcome } from '../idempotency/idempotency.service';
import type { BaseState, Resource, View } from './resource';

/** A point in a resource's life: after its event with this sequence, or as of this instant. */
export type AsOf = { sequence: number } | { time: Date };

/** One list filter: SQL with one `?` for the value (`status = ?`), ANDed with the tenant and the cursor. */
export type Filter = [sql: string, value: unknown];

/** A change decided on the locked current state: the event to append (its payload typed by the catalogue). */
export type Decide<State> = (state: State, at: Date) => TypedEvent;

const SOURCE = 'tidings/api';

/**
 * What every resource gets from the kit (resource.ts): one transaction path for every mutation, the row lock,
 * If-Match, Idempotency-Key, the list with its cursor, the history and `asOf`. A change is always
 * `lock row → check If-Match → decide the event → fold it over the row → write the row with its event`, in one
 * transaction opened by `IdempotencyService.execute` (the only place a resource's transaction opens); a creation
 * is `decide → fold → write the row with its event`, one statement (`writeWithEvent`), in that transaction only
 * when an Idempotency-Key must be recorded with it. Either way the change and its event commit together or not
 * at all.
 */
@Injectable()
export class ResourcesService {
  constructor(
    private readonly ds: DataSource,
    private readonly idempotency: IdempotencyService,
  ) {}

  async get<S extends BaseState>(def: Resource<S>, t: TenantCtx, id: string): Promise<View<S>> {
    const [row] = (await this.ds.query(
      `SELECT * FROM ${def.table} WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`,
      [id, t.tenantId],
    )) as Record<string, unknown>[];
    if (!row) throw new NotFoundProblem(def.label, id);
    return def.view(def.fromRow(row));
  }

  /** The tenant's live resources, newest first, `limit` (default 20) a page, keyset-paged by (created_at, id). */
  async list<S extends BaseState>(
    def: Resource<S>,
    t: TenantCtx,
    q: { limit?: number; cursor?: string },
    filters: Filter[] = [],
  ): Promise<{ data: View<S>[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    const where = ['tenant_id = $1', 'deleted_at IS NULL'];
    const params: unknown[] = [t.tenantId];
    for (const [sql, value] of filters) {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    }
    const c = decodeTimeCursor(q.cursor, def.idPrefix);
    if (c) {
      params.push(c.createdAt, c.id);
      where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit + 1);
    const rows = (await this.ds.query(
      `SELECT * FROM ${def.table} WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )) as Record<string, unknown>[];
    const page = rows.slice(0, limit).map((r) => def.fromRow(r));
    const last = page[page.length - 1];
    return {
      data: page.map((s) => def.view(s)),
      nextCursor: rows.length > limit && last ? encodeTimeCursor(last.createdAt, last.id) : null,
    };
  }

  /**
   * Creates a resource from its creation event: 201 with its view. Without an Idempotency-Key the row and its
   * event are one statement, its own transaction (one round trip); with one, that statement runs in the key's
   * transaction (`IdempotencyService.execute`).
   */
  create<S extends BaseState>(
    def: Resource<S>,
    t: TenantCtx,
    req: MutationRequest,
    decide: (id: string, at: Date) => TypedEvent,
  ): Promise<Outcome<View<S>> & { replayed: boolean }> {
    return inSpan(`transaction ${def.type}.create`, { parent: req.traceparent }, async (span) => {
      const insert = async (on: DataSource | Tx): Promise<Outcome<View<S>>> => {
        const id = `${def.idPrefix}${uuidv7().replace(/-/g, '')}`;
        const now = new Date();
        const event = this.build(t, id, 1, now, decide(id, now));
        const names = def.columns.map((c) => c.column);
        const write = {
          sql: `INSERT INTO ${def.table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`,
          params: def.toParams(def.applyEvent(null, event)),
        };
        const [row] = await writeWithEvent(on, write, event, span.traceparent);
        return { status: 201, body: def.view(def.fromRow(row)) };
      };
      if (req.idempotencyKey === undefined) return { ...(await insert(this.ds)), replayed: false };
      return this.idempotency.execute(idempotent(t, req), insert);
    });
  }

  /**
   * Changes a live resource by one event decided on its locked state. `idempotent` says whether the request
   * honours Idempotency-Key (the POSTs do; PATCH and DELETE are guarded by If-Match instead).
   */
  change<S extends BaseState>(
    def: Resource<S>,
    t: TenantCtx,
    id: string,
    req: MutationRequest,
    action: { name: string; idempotent: boolean },
    decide: Decide<S>,
  ): Promise<Outcome<View<S>> & { replayed: boolean }> {
    return inSpan(`transaction ${def.type}.${action.name}`, { parent: req.traceparent }, (span) =>
      this.idempotency.execute(action.idempotent ? idempotent(t, req) : notIdempotent(t), async (tx) => {
        const current = await this.lock(def, tx, t, id, req.ifMatch);
        const now = new Date();
        const event = this.build(t, id, current.version + 1, now, decide(current, now));
        const next = def.applyEvent(current, event);
        const changed = def.columns.filter(
          (c) => c.field !== 'id' && !same(def.param(c, current[c.field]), def.param(c, next[c.field])),
        );
        const write = {
          sql: `UPDATE ${def.table} SET ${changed.map((c, i) => `${c.column} = $${i + 3}`).join(', ')}
                 WHERE id = $1 AND tenant_id = $2 RETURNING *`,
          params: [id, t.tenantId, ...changed.map((c) => def.param(c, next[c.field]))],
        };
        const [row] = await writeWithEvent(tx, write, event, span.traceparent);
        return { status: 200, body: def.view(def.fromRow(row)) };
      }),
    );
  }

  /**
   * Every committed event of the resource in sequence order, including events the relay has not positioned
   * yet (`position: null`): a resource's own history is ordered by `sequence`, final at commit, so the audit
   * trail does not lag. Deleted resources keep their history. Unknown or another tenant's: 404.
   */
  async history<S extends BaseState>(
    def: Resource<S>,
    t: TenantCtx,
    id: string,
  ): Promise<{ data: EventEnvelope[] }> {
    const events = await this.events(def, t, id);
    if (events.length === 0) throw new NotFoundProblem(def.label, id);
    return { data: events };
  }

  /**
   * The resource as it was at `asOf`, folded from its events (the fold the live row is written with). 404 when
   * it did not exist then: not created yet, already deleted, or never (including another tenant's).
   */
  async asOf<S extends BaseState>(def: Resource<S>, t: TenantCtx, id: string, asOf: AsOf): Promise<View<S>> {
    const state = def.fold(await this.events(def, t, id, asOf));
    if (!state || state.deletedAt) {
      throw new NotFoundProblem(`${def.label} ${id} did not exist at ${describe(asOf)}`);
    }
    return def.view(state);
  }

  private async events<S extends BaseState>(
    def: Resource<S>,
    t: TenantCtx,
    id: string,
    asOf?: AsOf,
  ): Promise<EventEnvelope[]> {
    const qb = this.ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .where('e.tenantId = :tenantId', { tenantId: t.tenantId })
      .andWhere('e.resourceType = :type', { type: def.type })
      .andWhere('e.resourceId = :id', { id });
    if (asOf && 'sequence' in asOf) qb.andWhere('e.sequence <= :sequence', { sequence: asOf.sequence });
    if (asOf && 'time' in asOf) qb.andWhere('e.occurredAt <= :time', { time: asOf.time });
    const rows = await qb.orderBy('e.sequence', 'ASC').getMany();
    return rows.map(envelopeFromLogRow);
  }

  /** Locks the tenant's live row for this transaction; 404 when missing, deleted or another tenant's. */
  private async lock<S extends BaseState>(
    def: Resource<S>,
    tx: Tx,
    t: TenantCtx,
    id: string,
    ifMatch: number | undefined,
  ) {
    const [row] = (await tx.query(
      `SELECT * FROM ${def.table} WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL FOR UPDATE`,
      [id, t.tenantId],
    )) as Record<string, unknown>[];
    if (!row) throw new NotFoundProblem(def.label, id);
    const state = def.fromRow(row);
    if (ifMatch !== undefined && ifMatch !== state.version) {
      throw new PreconditionFailedProblem(
        `If-Match ${ifMatch} does not match the current version ${state.version}`,
        state.version,
      );
    }
    return state;
  }

  private build(t: TenantCtx, id: string, sequence: number, at: Date, typed: TypedEvent): EventEnvelope {
    return buildEvent({
      ...typed,
      tenantId: t.tenantId,
      resourceId: id,
      sequence,
      source: SOURCE,
      timestamp: at,
    });
  }
}

function idempotent(t: TenantCtx, req: MutationRequest) {
  return { tenantId: t.tenantId, key: req.idempotencyKey, method: 'POST', path: req.path, body: req.body };
}

// PATCH and DELETE do not take an Idempotency-Key (If-Match makes their retries safe): the same transaction
// path, with no key to record.
function notIdempotent(t: TenantCtx) {
  return { tenantId: t.tenantId, method: 'PATCH/DELETE', path: '', body: null };
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

function describe(asOf: AsOf): string {
  return 'sequence' in asOf ? `sequence ${asOf.sequence}` : asOf.time.toISOString();
}
