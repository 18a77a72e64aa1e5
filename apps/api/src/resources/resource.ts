import {
  atLatestVersion,
  type EventEnvelope,
  isResourceEvent,
  type KnownEnvelope,
  type KnownEventType,
  type ResourceEventType,
} from '@tidings/events';
import { z } from 'zod';

/**
 * The aggregate kit's definition of a resource (orders, messages, …): everything about it is declared once
 * here, and `ResourcesService` (transaction, If-Match, Idempotency-Key, list, history, asOf) and the rebuild
 * derive the rest. See docs/adding-a-resource.md.
 *
 * - `state`: a zod object of the projection row, field by field, in the order the API shows it. The table's
 *   columns are its keys in snake_case (`columns` renames the exceptions), dates are timestamptz, arrays,
 *   records and objects are jsonb; the view is the state without `tenantId` and `deletedAt`, dates as ISO text.
 * - `created` and `on`: the fold, one function per event type of the resource. The kit checks what every
 *   fold must (the resource's own events, gapless sequence, created once and first, nothing after deletion),
 *   sets `version` to the event's sequence and `updatedAt` (when the state has one) to its time, and on
 *   creation `id`, `tenantId`, `createdAt` and `deletedAt: null`.
 *
 * Mutations append an event and write the row to the fold of that event over the current row, so the live
 * projection is the fold of the log by construction; `npm run tidings -- rebuild` re-checks it.
 */
export interface BaseState {
  id: string;
  tenantId: string;
  version: number;
  createdAt: Date;
  deletedAt: Date | null;
}

/** The zod fields every resource state has (the kit reads and writes them). */
export interface BaseShape extends z.ZodRawShape {
  id: z.ZodString;
  tenantId: z.ZodString;
  version: z.ZodNumber;
  createdAt: z.ZodDate;
  deletedAt: z.ZodNullable<z.ZodDate>;
}
// The intersection restates BaseShape's fields for code generic over S, where zod's inferred type is opaque.
type StateOf<S extends BaseShape> = z.infer<z.ZodObject<S>> & BaseState;
type EventsOf<R extends string> = ResourceEventType<R>;
type Envelope<T extends KnownEventType> = KnownEnvelope<T>;

export interface ResourceSpec<R extends string, S extends BaseShape, C extends EventsOf<R>> {
  /** The resource type of its events (`order` → `order.*` in the catalogue, topic `events.order`). */
  type: R;
  /** The word errors use: `Order ord_1 not found`. */
  label: string;
  table: string;
  /** Every id is this prefix and a UUIDv7 without dashes. */
  idPrefix: string;
  state: z.ZodObject<S>;
  /** Column names that are not the field's name in snake_case. */
  columns?: Partial<Record<keyof S & string, string>>;
  /** The event that creates the resource, and its own fields (the kit sets id, tenantId, version and the times). */
  creation: C;
  created: (event: Envelope<C>) => Omit<StateOf<S>, keyof BaseState | 'updatedAt'>;
  /** Every other event type of the resource and what it does to the state. */
  on: { [K in Exclude<EventsOf<R>, C>]: (state: StateOf<S>, event: Envelope<K>) => StateOf<S> };
  /** The event that deletes it (sets `deletedAt`); nothing may follow it. */
  deletion: Exclude<EventsOf<R>, C>;
}

/** Why a resource's log cannot be folded (a gap, a second creation, an event before creation…): never guessed. */
export class FoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FoldError';
  }
}

type Codec = 'plain' | 'json' | 'number' | 'date';

export interface ColumnOf<State> {
  field: keyof State & string;
  column: string;
  codec: Codec;
}

function codecOf(schema: z.ZodType): Codec {
  let s = schema;
  while (s instanceof z.ZodNullable || s instanceof z.ZodOptional || s instanceof z.ZodDefault)
    s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodDate) return 'date';
  if (s instanceof z.ZodNumber) return 'number';
  if (s instanceof z.ZodArray || s instanceof z.ZodRecord || s instanceof z.ZodObject) return 'json';
  return 'plain';
}

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const verb = (eventType: string) => eventType.slice(eventType.indexOf('.') + 1);
const HIDDEN = new Set(['tenantId', 'deletedAt']);

export type View<State> = {
  [K in Exclude<keyof State, 'tenantId' | 'deletedAt'>]: State[K] extends Date
    ? string
    : State[K] extends Date | null
      ? string | null
      : State[K];
};

/** What the kit derives from a definition; `ResourcesService` and the rebuild work on this. */
export interface Resource<State extends BaseState = BaseState> {
  type: string;
  label: string;
  table: string;
  idPrefix: string;
  /** The columns of the table, one per state field, in the state's order. */
  columns: ColumnOf<State>[];
  /** The state's schema without `tenantId` and `deletedAt`: what `view` shows (dates then as ISO text). */
  viewSchema: z.ZodObject;
  fromRow(row: Record<string, unknown>): State;
  toParams(state: State): unknown[];
  param(column: ColumnOf<State>, value: unknown): unknown;
  view(state: State): View<State>;
  applyEvent(state: State | null, event: EventEnvelope): State;
  fold(events: readonly EventEnvelope[]): State | null;
}

export function defineResource<R extends string, S extends BaseShape, C extends EventsOf<R>>(
  spec: ResourceSpec<R, S, C>,
): Resource<StateOf<S>> {
  type State = StateOf<S>;
  const columns: ColumnOf<State>[] = Object.entries(spec.state.shape).map(([field, schema]) => ({
    field: field as keyof State & string,
    column: (spec.columns as Record<string, string> | undefined)?.[field] ?? snake(field),
    codec: codecOf(schema as z.ZodType),
  }));
  const hasUpdatedAt = 'updatedAt' in spec.state.shape;
  const viewColumns = columns.filter((c) => !HIDDEN.has(c.field));
  // The handlers are typed per event type in the spec; here they are looked up by the event's type.
  const created = spec.created as unknown as (event: KnownEnvelope) => Record<string, unknown>;
  const on = spec.on as unknown as Record<string, (state: State, event: KnownEnvelope) => State>;

  /** A row as `SELECT *` returns it (bigint as text, jsonb parsed, timestamptz as Date) → the state. */
  function fromRow(row: Record<string, unknown>): State {
    const state: Record<string, unknown> = {};
    for (const c of columns) {
      const value = row[c.column];
      state[c.field] = c.codec === 'number' && value !== null ? Number(value) : value;
    }
    return state as State;
  }

  /** The state's column values, in `columns` order, as query parameters. */
  function toParams(state: State): unknown[] {
    return columns.map((c) => param(c, state[c.field]));
  }

  function param(c: ColumnOf<State>, value: unknown): unknown {
    return c.codec === 'json' ? JSON.stringify(value) : value;
  }

  function view(state: State): View<State> {
    const out: Record<string, unknown> = {};
    for (const c of viewColumns) {
      const value = state[c.field];
      out[c.field] = value instanceof Date ? value.toISOString() : value;
    }
    return out as View<State>;
  }

  /** Folds one event into the state (null before creation); events of any stored version are read at the latest. */
  function applyEvent(state: State | null, raw: EventEnvelope): State {
    const event = atLatestVersion(raw);
    const name = `${spec.type} ${event.resourceId}`;
    if (!isResourceEvent(event, spec.type)) {
      throw new FoldError(
        `event ${event.eventId} is a ${event.resourceType} event, not an ${spec.type} event`,
      );
    }
    const expected = (state?.version ?? 0) + 1;
    if (event.sequence !== expected) {
      throw new FoldError(
        `${name}: expected sequence ${expected}, got ${event.sequence} (event ${event.eventId})`,
      );
    }
    const at = new Date(event.timestamp);
    if (event.eventType === spec.creation) {
      if (state) throw new FoldError(`${name} is ${verb(spec.creation)} twice (event ${event.eventId})`);
      return {
        ...created(event),
        id: event.resourceId,
        tenantId: event.tenantId,
        version: event.sequence,
        createdAt: at,
        deletedAt: null,
        ...(hasUpdatedAt ? { updatedAt: at } : {}),
      } as unknown as State;
    }
    if (!state) {
      throw new FoldError(
        `${name}: ${verb(event.eventType)} before ${verb(spec.creation)} ` +
          `(${event.eventType} before ${spec.creation}, event ${event.eventId})`,
      );
    }
    if (state.deletedAt) {
      throw new FoldError(`${name}: ${event.eventType} after ${spec.deletion} (event ${event.eventId})`);
    }
    const next = on[event.eventType](state, event);
    return { ...next, version: event.sequence, ...(hasUpdatedAt ? { updatedAt: at } : {}) };
  }

  /** The state after `events` (one resource's, in sequence order from 1), or null when there are none. */
  function fold(events: readonly EventEnvelope[]): State | null {
    return events.reduce<State | null>((state, event) => applyEvent(state, event), null);
  }

  const viewSchema = z.object(
    Object.fromEntries(Object.entries(spec.state.shape).filter(([field]) => !HIDDEN.has(field))),
  );
  const { type, label, table, idPrefix } = spec;
  return {
    type,
    label,
    table,
    idPrefix,
    columns,
    viewSchema,
    fromRow,
    toParams,
    param,
    view,
    applyEvent,
    fold,
  };
}
