import { Injectable } from '@nestjs/common';
import { ConflictProblem, ValidationProblem } from '@tidings/runtime';
import type { TenantCtx } from '../auth/tenant.decorator';
import { DeliveriesService, type DeliveryView } from '../deliveries/deliveries.service';
import type { DeadLettersQueryDto, ReplayDeadLettersDto } from './dead-letters.dto';

/**
 * Dead letters are deliveries with status `dead` and a reason (`retries_exhausted`, `subscription_disabled`,
 * `subscription_deleted`); the dispatcher publishes each to the dead-letter topic. Replaying one puts it back to
 * `pending` with its whole schedule (attempt count reset), due now; the event keeps its id, so receivers can
 * still dedupe. Dead letters of a disabled subscription are replayed by enabling it with replay.
 */
@Injectable()
export class DeadLettersService {
  constructor(private readonly deliveries: DeliveriesService) {}

  list(t: TenantCtx, q: DeadLettersQueryDto) {
    return this.deliveries.list(t, { ...q, status: 'dead' });
  }

  async replayOne(t: TenantCtx, id: string): Promise<DeliveryView> {
    const delivery = await this.deliveries.find(t, id);
    if (delivery.status !== 'dead')
      throw new ConflictProblem(`Delivery ${id} is ${delivery.status}, not a dead letter`);
    await this.deliveries.assertActive(t, delivery);
    await this.deliveries.redeliver(t, { statuses: ['dead'], deliveryId: id }, false);
    return this.deliveries.get(t, id);
  }

  replayMany(t: TenantCtx, body: ReplayDeadLettersDto): Promise<{ count: number }> {
    const since = body.since === undefined ? undefined : new Date(body.since);
    const until = body.until === undefined ? undefined : new Date(body.until);
    if (since && until && since >= until)
      throw new ValidationProblem(
        [{ field: 'until', message: 'must be later than since' }],
        'until must be later than since',
      );
    return this.deliveries.redeliver(
      t,
      {
        statuses: ['dead'],
        subscriptionId: body.subscriptionId,
        eventType: body.eventType,
        since,
        until,
      },
      body.dryRun ?? false,
    );
  }
}
