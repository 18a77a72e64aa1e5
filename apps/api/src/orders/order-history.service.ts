import { Injectable } from '@nestjs/common';
import type { EventEnvelope } from '@tidings/events';
import type { TenantCtx } from '../auth/tenant.decorator';
import { type AsOf, ResourcesService } from '../resources/resources.service';
import { ORDER, type OrderView } from './order.resource';

export type { AsOf } from '../resources/resources.service';

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
