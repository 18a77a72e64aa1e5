import { Injectable } from '@nestjs/common';
import type { EventEnvelope } from '@tidings/events';
import { ValidationProblem } from '@tidings/runtime';
import type { TenantCtx } from '../auth/tenant.decorator';
import { parseTimestamp } from '../http/timestamp.validator';
import { type AsOf, ResourcesService } from '../resources/resources.service';
import { ORDER, type OrderView } from './order.resource';

export type { AsOf } from '../resources/resources.service';

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
 * Parses `asOf`: all digits is a sequence (the order's version), anything else must be an RFC 3339 instant.
 * A bad value is a 400: guessing would answer a different question than the one asked.
 */
export function parseAsOf(raw: unknown): AsOf {
  const problem = asOfProblem(raw);
  if (problem !== undefined)
    throw new ValidationProblem([{ field: 'asOf', message: problem }], `asOf ${problem}`);
  const value = raw as string;
  return AS_OF_SEQUENCE.test(value) ? { sequence: Number(value) } : { time: parseTimestamp(value)! };
}

/**
 * An order's past, straight from the event log: its full history, and its state at any earlier point,
 * folded from its events (the fold the live row is written with, so "as of now" equals the live projection).
 */
@Injectable()
export class OrderHistoryService {
  constructor(private readonly resources: ResourcesService) {}

  history(t: TenantCtx, orderId: string): Promise<{ data: EventEnvelope[] }> {
    return this.resources.history(ORDER, t, orderId);
  }

  asOf(t: TenantCtx, orderId: string, asOf: AsOf): Promise<OrderView> {
    return this.resources.asOf(ORDER, t, orderId, asOf);
  }
}
