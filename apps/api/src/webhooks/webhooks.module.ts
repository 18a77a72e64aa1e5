import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module';
import { WebhookDeliveriesController } from './webhook-deliveries.controller';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** Webhook subscriptions: CRUD, secret rotation, test pings, re-enable with replay, their delivery log. */
@Module({
  imports: [DeliveriesModule],
  controllers: [WebhooksController, WebhookDeliveriesController],
  providers: [WebhooksService],
  exports: [WebhooksService],
})
export class WebhooksModule {}
