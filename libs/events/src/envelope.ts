import { v7 as uuidv7 } from 'uuid';
import {
  type EventData,
  EventValidationError,
  type KnownEventType,
  UnknownEventTypeError,
  convertData,
  latestVersion,
  resourceTypeOf,
  validateEventData,
} from './catalogue';

/** The one object every transport carries (DESIGN.md §3). */
export interface EventEnvelope<D = unknown> {
  /** UUIDv7; also the webhook-id and the dedupe key everywhere. */
  eventId: string;
  eventType: string;
  version: number;
  /** ISO 8601, UTC. */
  timestamp: string;
  source: string;
  tenantId: string;
  resourceType: string;
  resourceId: string;
  /** The resource's version after this event: 1, 2, 3… */
  sequence: number;
  /** The tenant's dense order (1, 2, 3… per tenant) assigned by the outbox relay; null until then. */
  position: number | null;
  data: D;
}

/**
 * The envelope's fields in wire order: the encoder, the decoder's completeness check and the AsyncAPI and
 * OpenAPI schemas all read this list; tsc keeps it equal to EventEnvelope's keys.
 */
export const ENVELOPE_FIELDS = [
  'eventId',
  'eventType',
  'version',
  'timestamp',
  'source',
  'tenantId',
  'resourceType',
  'resourceId',
  'sequence',
  'position',
  'data',
] as const satisfies readonly (keyof EventEnvelope)[];
export type EnvelopeField = (typeof ENVELOPE_FIELDS)[number];
const _everyField: Exclude<keyof EventEnvelope, EnvelopeField> extends never ? true : never = true;

export class EnvelopeDecodeError extends Error {
  constructor(
    message: string,
    /** `unknown_type` and `unknown_version` are poison for consumers built before the type existed. */
    readonly reason: 'malformed' | 'invalid_data' | 'unknown_type' | 'unknown_version' = 'malformed',
  ) {
    super(message);
    this.name = 'EnvelopeDecodeError';
  }
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

// Date.parse rolls 2026-02-30 over to March, so the calendar fields are compared after parsing too.
function isUtcDateTime(value: string): boolean {
  if (!ISO_UTC.test(value)) return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

/** What every event carries besides its type and data; the resource type comes from the catalogue. */
export interface EventFields {
  tenantId: string;
  resourceId: string;
  sequence: number;
  source: string;
  timestamp?: Date | string;
  eventId?: string;
}

/**
 * A type and its payload, correlated: for a union of types it is the union of the matching pairs, so a value
 * holding "one of these events" can be passed on without losing the link between type and data.
 */
export type TypedEvent<T extends KnownEventType = KnownEventType> = {
  [K in T]: { eventType: K; data: EventData<K> };
}[T];

export type BuildEventInput<T extends KnownEventType = KnownEventType> = EventFields & TypedEvent<T>;

/** An event whose type and version are only known at run time (catalogue walks, decoding tests). */
export interface UntypedEventInput extends EventFields {
  eventType: string;
  /** Defaults to the latest version of the type. */
  version?: number;
  data: unknown;
}

/**
 * Builds a validated envelope at the type's latest version; the resource type comes from the catalogue. The
 * type and payload are checked by `tsc` against the catalogue, and `data` again at run time against its
 * schema: an invalid event is a bug in the emitter, so this throws (and the emitting transaction fails).
 */
export function buildEvent<T extends KnownEventType>(input: BuildEventInput<T>): EventEnvelope<EventData<T>> {
  return buildUntypedEvent(input) as EventEnvelope<EventData<T>>;
}

/**
 * `buildEvent` for a type, version and payload known only at run time: the same checks, all at run time.
 * Emitters use `buildEvent`; this is for code that walks the catalogue or tests untyped input.
 */
export function buildUntypedEvent(input: UntypedEventInput): EventEnvelope {
  const version = input.version ?? latestVersion(input.eventType);
  const data = validateEventData(input.eventType, version, input.data);
  if (!Number.isSafeInteger(input.sequence) || input.sequence < 1) {
    throw new EventValidationError('sequence must be a positive integer');
  }
  if (!input.tenantId || !input.resourceId || !input.source) {
    throw new EventValidationError('tenantId, resourceId and source are required');
  }
  const timestamp = input.timestamp === undefined ? new Date() : new Date(input.timestamp);
  if (Number.isNaN(timestamp.getTime())) throw new EventValidationError('timestamp is not a valid date');
  const eventId = input.eventId ?? uuidv7();
  if (!UUID_V7.test(eventId)) throw new EventValidationError('eventId must be a UUIDv7');
  return {
    eventId,
    eventType: input.eventType,
    version,
    timestamp: timestamp.toISOString(),
    source: input.source,
    tenantId: input.tenantId,
    resourceType: resourceTypeOf(input.eventType),
    resourceId: input.resourceId,
    sequence: input.sequence,
    position: null,
    data,
  };
}

/** Serialises exactly the envelope's fields, in ENVELOPE_FIELDS order (a stray property is not sent). */
export function encodeEnvelope(e: EventEnvelope): string {
  const wire: Record<string, unknown> = {};
  for (const k of ENVELOPE_FIELDS) wire[k] = e[k];
  return JSON.stringify(wire);
}

function fail(message: string): never {
  throw new EnvelopeDecodeError(message);
}

const nonEmptyString = (o: Record<string, unknown>, k: string) => {
  if (typeof o[k] !== 'string' || (o[k] as string).length === 0) fail(`${k} must be a non-empty string`);
};
const positiveInt = (o: Record<string, unknown>, k: string) => {
  if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 1) fail(`${k} must be a positive integer`);
};

/** Parses and validates an envelope strictly: every field, its type, known type+version, valid data. */
export function decodeEnvelope(raw: string | Buffer): EventEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    fail('envelope is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    fail('envelope must be a JSON object');
  const o = parsed as Record<string, unknown>;
  for (const k of ENVELOPE_FIELDS) if (!(k in o)) fail(`${k} is missing`);
  const extra = Object.keys(o).filter((k) => !(ENVELOPE_FIELDS as readonly string[]).includes(k));
  if (extra.length) fail(`unknown field(s): ${extra.join(', ')}`);
  if (typeof o.eventId !== 'string' || !UUID_V7.test(o.eventId)) fail('eventId must be a lowercase UUIDv7');
  nonEmptyString(o, 'eventType');
  positiveInt(o, 'version');
  if (typeof o.timestamp !== 'string' || !isUtcDateTime(o.timestamp)) {
    fail('timestamp must be an ISO 8601 UTC date-time (…Z)');
  }
  nonEmptyString(o, 'source');
  nonEmptyString(o, 'tenantId');
  nonEmptyString(o, 'resourceType');
  nonEmptyString(o, 'resourceId');
  positiveInt(o, 'sequence');
  if (o.position !== null) positiveInt(o, 'position');
  const type = o.eventType as string;
  const version = o.version as number;
  let expectedResource: string;
  try {
    expectedResource = resourceTypeOf(type);
    validateEventData(type, version, o.data);
  } catch (error) {
    if (error instanceof UnknownEventTypeError) {
      throw new EnvelopeDecodeError(
        error.message,
        error.version === undefined ? 'unknown_type' : 'unknown_version',
      );
    }
    throw new EnvelopeDecodeError(error instanceof Error ? error.message : String(error), 'invalid_data');
  }
  if (o.resourceType !== expectedResource)
    fail(`resourceType ${String(o.resourceType)} does not match ${type}`);
  return o as unknown as EventEnvelope;
}

/** An envelope of a catalogue type at its latest version, discriminated by `eventType`: a switch narrows `data`. */
export type KnownEnvelope<T extends KnownEventType = KnownEventType> = {
  [K in T]: EventEnvelope<EventData<K>> & { eventType: K };
}[T];

/**
 * The event rendered at its type's latest version (the catalogue's up-casters), typed by the catalogue, so a
 * reader written against the latest shapes reads an event stored at any version. Throws for an unknown type.
 */
export function atLatestVersion(e: EventEnvelope): KnownEnvelope {
  return renderAtVersion(e, latestVersion(e.eventType)) as KnownEnvelope;
}

/** The catalogue types of resource `R`: every type is named `<resourceType>.<verb>` (a catalogue test checks it). */
export type ResourceEventType<R extends string> = Extract<KnownEventType, `${R}.${string}`>;

/** Whether `e` is an event of `resourceType`, by the catalogue (not the envelope's own field); narrows `eventType`. */
export function isResourceEvent<R extends string>(
  e: KnownEnvelope,
  resourceType: R,
): e is KnownEnvelope<ResourceEventType<R>> {
  return resourceTypeOf(e.eventType) === resourceType;
}

/** The same event with `data` converted to `version` (up or down through the registered casters). */
export function renderAtVersion<D = unknown>(e: EventEnvelope, version: number): EventEnvelope<D> {
  if (version === e.version) return e as EventEnvelope<D>;
  return { ...e, version, data: convertData(e.eventType, e.data, e.version, version) as D };
}
