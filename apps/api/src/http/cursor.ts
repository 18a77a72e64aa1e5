import { ValidationProblem } from '@tidings/runtime';
import { parseTimestamp } from './timestamp.validator';

// The one cursor codec of the API: a page's cursor is the sort key of its last row, as a JSON tuple in base64url.
// Cursors are opaque to clients and only ever produced by encode*Cursor below, so decoding accepts exactly what
// encoding produces: canonical base64url, an id of ours (prefix + printable ASCII, no NUL, no space), a
// `toISOString()` time in the years Postgres and Date share, a non-negative safe integer position. Anything else
// is a 400, never a query parameter.
const BASE64URL = /^[A-Za-z0-9_-]{1,400}$/;
const ID = /^[\x21-\x7e]{1,100}$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function invalid(): ValidationProblem {
  return new ValidationProblem(
    [{ field: 'cursor', message: 'is not a cursor returned by this endpoint' }],
    'cursor is not a cursor returned by this endpoint',
  );
}

function encode(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

function decode(cursor: string, length: number): unknown[] {
  if (!BASE64URL.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Base64 decoding skips what it cannot read; only a cursor that re-encodes to itself is one of ours.
  if (Buffer.from(text, 'utf8').toString('base64url') !== cursor) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== length) throw invalid();
  return parsed as unknown[];
}

function checkId(id: unknown, prefix: string): string {
  if (typeof id !== 'string' || !id.startsWith(prefix) || !ID.test(id)) throw invalid();
  return id;
}

/** Cursor of a list ordered by id (ids are prefix + UUIDv7: creation order): the last id of the page. */
export function encodeIdCursor(id: string): string {
  return encode([id]);
}

export function decodeIdCursor(cursor: string | undefined, prefix: string): string | undefined {
  return cursor === undefined ? undefined : checkId(decode(cursor, 1)[0], prefix);
}

/** Cursor of a list ordered by (created_at, id), newest first: the last row of the page. */
export function encodeTimeCursor(createdAt: Date, id: string): string {
  return encode([createdAt.toISOString(), id]);
}

export function decodeTimeCursor(
  cursor: string | undefined,
  prefix: string,
): { createdAt: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const [at, id] = decode(cursor, 2);
  const createdAt = typeof at === 'string' && ISO_MILLIS.test(at) ? parseTimestamp(at) : undefined;
  if (!createdAt) throw invalid();
  return { createdAt, id: checkId(id, prefix) };
}

/** Cursor of a list ordered by (event position, id): unique and stable, unlike timestamps. */
export function encodePositionCursor(position: number, id: string): string {
  return encode([position, id]);
}

export function decodePositionCursor(
  cursor: string | undefined,
  prefix: string,
): { position: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const [position, id] = decode(cursor, 2);
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) throw invalid();
  return { position, id: checkId(id, prefix) };
}
