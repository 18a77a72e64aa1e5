import { ApiProperty } from '@nestjs/swagger';
import { isValidEventTypePattern, supportedVersions } from '@tidings/events';
import { type FieldProblem, ValidationProblem } from '@tidings/runtime';

// 100 by default keeps a page small for humans; 1000 at most bounds one query and one response body.
export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 1000;

export const RESOURCE_TYPES = ['order', 'message', 'tenant', 'api_key', 'webhook'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NON_NEGATIVE_INT = /^(0|[1-9][0-9]{0,15})$/;
const POSITIVE_INT = /^[1-9][0-9]{0,8}$/;
/** The largest `version` POSITIVE_INT admits. */
export const MAX_VERSION = 999_999_999;
// Resource ids are ours (`ord_…`, `msg_…`, `key_…`, UUIDs): printable ASCII without spaces, bounded.
export const RESOURCE_ID = /^[\x21-\x7e]{1,200}$/;

/** A parsed, validated `GET /events` query. */
export interface EventQuery {
  /** Exact type, `<prefix>.*` or `*`, each validated by isValidEventTypePattern. */
  types: string[];
  resourceType?: string;
  resourceId?: string;
  after: number;
  limit: number;
  version?: number;
}

export class EventEnvelopeDto {
  @ApiProperty({ format: 'uuid', description: 'UUIDv7; also the webhook-id and the dedupe key.' })
  eventId!: string;
  @ApiProperty({ example: 'order.created' })
  eventType!: string;
  @ApiProperty({ description: 'Schema version of `data`.', example: 2 })
  version!: number;
  @ApiProperty({ format: 'date-time' })
  timestamp!: string;
  @ApiProperty({ example: 'tidings/api' })
  source!: string;
  @ApiProperty()
  tenantId!: string;
  @ApiProperty({ enum: RESOURCE_TYPES })
  resourceType!: string;
  @ApiProperty()
  resourceId!: string;
  @ApiProperty({ description: "The resource's version after this event (1, 2, 3, … without gaps)." })
  sequence!: number;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: "The tenant's dense order (1, 2, 3…) assigned by the relay after commit; null until then.",
  })
  position!: number | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Validated against the catalogue.',
  })
  data!: Record<string, unknown>;
}

export class EventListDto {
  @ApiProperty({ type: [EventEnvelopeDto] })
  data!: EventEnvelopeDto[];
}

export class EventPageDto {
  @ApiProperty({ type: [EventEnvelopeDto] })
  data!: EventEnvelopeDto[];

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description:
      'Pass as `after` to get the next page; null when this page reached the newest positioned event ' +
      '(to wait for newer events, poll with the position of the last event you hold).',
  })
  nextAfter!: number | null;
}

const QUERY_FIELDS = new Set(['type', 'resourceType', 'resourceId', 'after', 'limit', 'version']);

function single(raw: Record<string, unknown>, field: string, problems: FieldProblem[]): string | undefined {
  const value = raw[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push({ field, message: 'must be given at most once' });
    return undefined;
  }
  return value;
}

function badRequest(problems: FieldProblem[]): ValidationProblem {
  return new ValidationProblem(problems, problems.map((p) => `${p.field} ${p.message}`).join('; '));
}

/** Parses the query of `GET /events/:eventId`: only an optional `version` (a positive integer). */
export function parseVersionQuery(raw: Record<string, unknown>): number | undefined {
  const problems: FieldProblem[] = Object.keys(raw)
    .filter((field) => field !== 'version')
    .map((field) => ({ field, message: 'is not a known query parameter' }));
  const value = single(raw, 'version', problems);
  if (value !== undefined && !POSITIVE_INT.test(value)) {
    problems.push({ field: 'version', message: 'must be a positive integer' });
  }
  if (problems.length > 0) throw badRequest(problems);
  return value === undefined ? undefined : Number(value);
}

/** Rejects a version the event type cannot be rendered at (400: the caller asked for something unknown). */
export function assertSupportedVersion(eventType: string, version: number): void {
  const supported = supportedVersions(eventType);
  if (!supported.includes(version)) {
    throw badRequest([
      {
        field: 'version',
        message: `${eventType} has no version ${version} (supported: ${supported.join(', ')})`,
      },
    ]);
  }
}

/**
 * Validates the raw query string of `GET /events`. Every problem is reported at once, with its field;
 * unknown parameters are rejected so a typo (`types=`) never silently widens the result.
 */
export function parseEventQuery(raw: Record<string, unknown>): EventQuery {
  const problems: FieldProblem[] = [];
  for (const field of Object.keys(raw)) {
    if (!QUERY_FIELDS.has(field)) problems.push({ field, message: 'is not a known query parameter' });
  }
  const type = single(raw, 'type', problems);
  const resourceType = single(raw, 'resourceType', problems);
  const resourceId = single(raw, 'resourceId', problems);
  const after = single(raw, 'after', problems);
  const limit = single(raw, 'limit', problems);
  const version = single(raw, 'version', problems);

  const types = type === undefined ? [] : type.split(',');
  for (const pattern of types) {
    if (!isValidEventTypePattern(pattern)) {
      problems.push({
        field: 'type',
        message: `${JSON.stringify(pattern)} is not an event type, a prefix wildcard like order.* or *`,
      });
    }
  }
  if (resourceType !== undefined && !(RESOURCE_TYPES as readonly string[]).includes(resourceType)) {
    problems.push({ field: 'resourceType', message: `must be one of ${RESOURCE_TYPES.join(', ')}` });
  }
  if (resourceId !== undefined && !RESOURCE_ID.test(resourceId)) {
    problems.push({ field: 'resourceId', message: 'must be 1-200 printable characters without spaces' });
  }
  if (after !== undefined && !(NON_NEGATIVE_INT.test(after) && Number.isSafeInteger(Number(after)))) {
    problems.push({ field: 'after', message: 'must be an integer position >= 0' });
  }
  const limitValue = limit === undefined ? DEFAULT_EVENTS_LIMIT : Number(limit);
  if (limit !== undefined && !(POSITIVE_INT.test(limit) && limitValue <= MAX_EVENTS_LIMIT)) {
    problems.push({ field: 'limit', message: `must be an integer between 1 and ${MAX_EVENTS_LIMIT}` });
  }
  let versionValue: number | undefined;
  if (version !== undefined) {
    if (!POSITIVE_INT.test(version)) {
      problems.push({ field: 'version', message: 'must be a positive integer' });
    } else if (types.length !== 1 || types[0].includes('*')) {
      problems.push({ field: 'version', message: 'requires type to be one exact event type' });
    } else {
      versionValue = Number(version);
    }
  }
  if (problems.length > 0) throw badRequest(problems);
  if (versionValue !== undefined) assertSupportedVersion(types[0], versionValue);

  return {
    types: types.includes('*') ? [] : types,
    ...(resourceType === undefined ? {} : { resourceType }),
    ...(resourceId === undefined ? {} : { resourceId }),
    after: after === undefined ? 0 : Number(after),
    limit: limitValue,
    ...(versionValue === undefined ? {} : { version: versionValue }),
  };
}

/** Event ids are UUIDs; anything else is a 400, not a 404 (and never reaches the uuid column). */
export function parseEventId(raw: string): string {
  if (!UUID.test(raw)) throw badRequest([{ field: 'eventId', message: 'must be a UUID' }]);
  return raw.toLowerCase();
}
