import { Module } from '@nestjs/common';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { AlertEndpointController } from './alert-endpoint.controller';
import { AlertEndpointService } from './alert-endpoint.service';

/** The tenant's alert endpoint (`/alert-endpoint`): a subscription of kind `alert`. */
@Module({
  imports: [WebhooksModule],
  controllers: [AlertEndpointController],
  providers: [AlertEndpointService],
})
export class AlertEndpointModule {}
