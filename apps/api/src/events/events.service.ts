import { Injectable } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity } from '@tidings/db';
import { type EventEnvelope, renderAtVersion } from '@tidings/events';
import { NotFoundProblem } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { assertSupportedVersion, type EventQuery } from './events.dto';

export interface EventPage {
  data: EventEnvelope[];
  nextAfter: number | null;
}

/**
 * Turns a validated event-type pattern into a LIKE pattern: `*` matches any run of characters, every
 * other character (including LIKE's own `%` and `_`, which event types contain) matches itself.
 */
export function likePattern(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

/**
 * The tenant's audit log as readers see it: only events the relay has positioned, in position order.
 * An unpositioned event is committed but not yet in the tenant's order; showing it would let a reader's
 * `after` cursor skip past it once it gets a lower position than something already shown (DESIGN.md §2.5).
 */
@Injectable()
export class EventsService {
  constructor(private readonly ds: DataSource) {}

  async list(t: TenantCtx, q: EventQuery): Promise<EventPage> {
    const qb = this.ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .where('e.tenantId = :tenantId', { tenantId: t.tenantId })
      .andWhere('e.position IS NOT NULL')
      .andWhere('e.position > :after', { after: q.after });
    if (q.types.length > 0) {
      // Parameters are bound, and the pattern's metacharacters escaped: user input never becomes SQL.
      const clauses = q.types.map((_, i) => `e.eventType LIKE :type${i} ESCAPE '\\'`);
      qb.andWhere(
        `(${clauses.join(' OR ')})`,
        Object.fromEntries(q.types.map((p, i) => [`type${i}`, likePattern(p)])),
      );
    }
    if (q.resourceType !== undefined) qb.andWhere('e.resourceType = :rt', { rt: q.resourceType });
    if (q.resourceId !== undefined) qb.andWhere('e.resourceId = :rid', { rid: q.resourceId });
    // One extra row tells whether another page exists without a count query.
    const rows = await qb
      .orderBy('e.position', 'ASC')
      .limit(q.limit + 1)
      .getMany();
    const page = rows.slice(0, q.limit);
    return {
      data: page.map((row) => this.render(row, q.version)),
      nextAfter: rows.length > q.limit ? page[page.length - 1].position : null,
    };
  }

  /**
   * One committed event by id, positioned or not (a single read has no cursor to corrupt, and an order's
   * history links to events that may still await their position: they render with `position: null`).
   */
  async get(t: TenantCtx, eventId: string, version?: number): Promise<EventEnvelope> {
    // Another tenant's event is indistinguishable from a missing one (DESIGN.md §2.6).
    const row = await this.ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .where('e.eventId = :eventId', { eventId })
      .andWhere('e.tenantId = :tenantId', { tenantId: t.tenantId })
      .getOne();
    if (!row) throw new NotFoundProblem('Event', eventId);
    if (version !== undefined) assertSupportedVersion(row.eventType, version);
    return this.render(row, version);
  }

  private render(row: EventLogEntity, version?: number): EventEnvelope {
    const envelope = envelopeFromLogRow(row);
    return version === undefined || version === envelope.version
      ? envelope
      : renderAtVersion(envelope, version);
  }
}
