import { ApiPropertyOptional } from '@nestjs/swagger';
import { ValidationProblem } from '@tidings/runtime';
import { Type } from 'class-transformer';
import { IsInt, IsString, Length, Max, Min, ValidateBy } from 'class-validator';
import { IfPresent } from '../http/optional.validator';
import { parseTimestamp, TIMESTAMP_SCHEMA } from '../http/timestamp.validator';
import type { AsOf } from './resources.service';

/** The page parameters of every resource list (`ResourcesService.list`); a list's own filters extend it. */
export class PageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page' })
  @IfPresent()
  @IsString()
  @Length(1, 200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IfPresent()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

// At most 9 digits: every such sequence fits event_log.sequence (an int), so the pattern is the whole rule.
export const AS_OF_SEQUENCE = /^[1-9][0-9]{0,8}$/;

/** Why `raw` is not an `asOf` (a sequence or an RFC 3339 time), or undefined when it is one. */
export function asOfProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return 'must be given once, as a sequence number or an RFC 3339 time';
  if (AS_OF_SEQUENCE.test(raw) || parseTimestamp(raw)) return undefined;
  return (
    'must be a sequence number (1 to 999999999) or an RFC 3339 time like 2026-11-28T12:00:00Z of a real day ' +
    'in the years 1-9999'
  );
}

/**
 * Parses `asOf`: all digits is a sequence (the resource's version), anything else must be an RFC 3339 instant.
 * A bad value is a 400: guessing would answer a different question than the one asked.
 */
export function parseAsOf(raw: unknown): AsOf {
  const problem = asOfProblem(raw);
  if (problem !== undefined)
    throw new ValidationProblem([{ field: 'asOf', message: problem }], `asOf ${problem}`);
  const value = raw as string;
  return AS_OF_SEQUENCE.test(value) ? { sequence: Number(value) } : { time: parseTimestamp(value)! };
}

/** `GET /<resources>/:id?asOf=`: the resource as it was then (`ResourcesService.asOf`). */
export class AsOfQuery {
  @ApiPropertyOptional({ description: 'A sequence number or an RFC 3339 time: the resource as it was then' })
  @IfPresent()
  @ValidateBy({
    name: 'isAsOf',
    constraints: [{ anyOf: [{ type: 'string', pattern: AS_OF_SEQUENCE.source }, TIMESTAMP_SCHEMA] }],
    validator: {
      validate: (value) => asOfProblem(value) === undefined,
      defaultMessage: (args) => `asOf ${asOfProblem(args?.value) ?? 'is invalid'}`,
    },
  })
  asOf?: string;
}
