import { ProblemError } from '@tidings/runtime';
import { parseTimestamp } from './timestamp.validator';

// Cursors are opaque to clients and only ever produced by encode*Cursor below, so decoding accepts exactly what
// encoding produces: canonical base64url, an id of ours (prefix + printable ASCII, no NUL, no space) and a
// `toISOString()` time in the years Postgres and Date share. Anything else is a 400, never a query parameter.
const BASE64URL = /^[A-Za-z0-9_-]{1,400}$/;
const ID = /^[\x21-\x7e]{1,100}$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function invalid(): ProblemError {
  return new ProblemError(400, 'Bad Request', 'cursor is not a cursor returned by this endpoint', {
    errors: [{ field: 'cursor', message: 'is not a cursor returned by this endpoint' }],
  });
}

function wrap(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function unwrap(cursor: string): string {
  if (!BASE64URL.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Base64 decoding skips what it cannot read; only a cursor that re-encodes to itself is one of ours.
  if (wrap(text) !== cursor) throw invalid();
  return text;
}

function checkId(id: unknown, prefix: string): string {
  if (typeof id !== 'string' || !id.startsWith(prefix) || !ID.test(id)) throw invalid();
  return id;
}

/** Cursor of a list ordered by id (ids are prefix + UUIDv7: creation order): the last id of the page. */
export function encodeIdCursor(id: string): string {
  return wrap(id);
}

export function decodeIdCursor(cursor: string | undefined, prefix: string): string | undefined {
  return cursor === undefined ? undefined : checkId(unwrap(cursor), prefix);
}

/** Cursor of a list ordered by (created_at, id), newest first: the last row of the page. */
export function encodeTimeCursor(createdAt: Date, id: string): string {
  return wrap(JSON.stringify([createdAt.toISOString(), id]));
}

export function decodeTimeCursor(
  cursor: string | undefined,
  prefix: string,
): { createdAt: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(unwrap(cursor));
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [at, id] = parsed as unknown[];
  const createdAt = typeof at === 'string' && ISO_MILLIS.test(at) ? parseTimestamp(at) : undefined;
  if (!createdAt) throw invalid();
  return { createdAt, id: checkId(id, prefix) };
}
