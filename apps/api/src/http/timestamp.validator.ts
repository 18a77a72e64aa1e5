import { ValidateBy, type ValidationOptions } from 'class-validator';

// RFC 3339 (seconds may be left out): a date, or a date-time with `Z` or an offset. It is the ISO 8601 profile
// that `new Date()` reads the same way on every host; week dates (2026-W01), the basic format
// (20260101T000000Z), signed years and times without an offset are ISO 8601 too, but Date cannot read them or
// reads them in local time.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The instant `value` names, or undefined unless it is an RFC 3339 date or date-time (`2026-01-01` is
 * midnight UTC) of a real calendar day whose instant falls in the years 1–9999, which Postgres, the pg driver
 * and `Date.toISOString` all handle alike.
 */
export function parseTimestamp(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TIMESTAMP.exec(value);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1, 4).map(Number);
  // Date rolls 2026-02-31 over into March instead of refusing it (setUTCFullYear: Date.UTC maps 0-99 to 19xx).
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const at = new Date(value);
  const utcYear = at.getUTCFullYear();
  return Number.isNaN(at.getTime()) || utcYear < 1 || utcYear > 9999 ? undefined : at;
}

/** What IsTimestamp accepts, as JSON Schema for the OpenAPI document (RFC 3339 date-times and dates). */
export const TIMESTAMP_SCHEMA = {
  anyOf: [
    { type: 'string', format: 'date-time' },
    { type: 'string', format: 'date' },
  ],
  description: 'RFC 3339 date-time (2026-01-01T00:00:00Z) or date (2026-01-01, midnight UTC), years 1–9999',
};

/** A timestamp as parseTimestamp reads it; services then read it with `new Date(value)`. */
export function IsTimestamp(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isTimestamp',
      constraints: [TIMESTAMP_SCHEMA],
      validator: {
        validate: (value) => parseTimestamp(value) !== undefined,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be an RFC 3339 date-time such as 2026-01-01T00:00:00Z ` +
          '(or a date such as 2026-01-01) between the years 1 and 9999',
      },
    },
    options,
  );
}
