import { Controller, Logger } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { EventEnvelopeOf, ResourceEventType } from '@tidings/events';
import { TidingsEvent, type TidingsKafkaContext } from '@tidings/kafka';
import { ShipmentsService } from './shipments.service';

/**
 * The warehouse's reactions to Tidings order events. Each handler resolving commits the record; throwing
 * retries it in place (the partition waits, so per-order order holds); a record that is not a valid Tidings
 * event never reaches here: the transport dead-letters it.
 */
@Controller()
export class ShipmentsController {
  private readonly logger = new Logger(ShipmentsController.name);

  constructor(private readonly shipments: ShipmentsService) {}

  @TidingsEvent('order.*')
  async orderEvent(
    @Payload() event: EventEnvelopeOf<ResourceEventType<'order'>>,
    @Ctx() ctx: TidingsKafkaContext,
  ): Promise<void> {
    if (!(await this.shipments.record(event)))
      this.logger.log(
        `skipped a redelivered ${event.eventType} ${event.eventId} (offset ${ctx.getOffset()})`,
      );
  }

  @TidingsEvent('order.shipped', { version: 1 })
  async shipped(@Payload() event: EventEnvelopeOf<'order.shipped', 1>): Promise<void> {
    await this.shipments.bookPickup(event);
  }
}
