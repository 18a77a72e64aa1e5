import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { CountDto, DeliveriesQueryDto, DeliveryPageDto, RecoverDto } from '../deliveries/deliveries.dto';
import { DeliveriesService } from '../deliveries/deliveries.service';

/** A subscription's deliveries (`/webhooks/:id/deliveries`, `/webhooks/:id/recover`): the sub-resource lives here. */
@ApiTags('deliveries')
@ApiBearerAuth()
@Controller('webhooks/:id')
export class WebhookDeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get('deliveries')
  @ApiOperation({ summary: "A subscription's delivery log, newest event first" })
  @ApiOkResponse({ type: DeliveryPageDto })
  list(@Tenant() t: TenantCtx, @Param('id') id: string, @Query() q: DeliveriesQueryDto) {
    return this.deliveries.list(t, { ...q, subscriptionId: id });
  }

  @Post('recover')
  @HttpCode(202)
  @ApiOperation({ summary: 'Re-deliver everything that failed or died since a time' })
  @ApiAcceptedResponse({ type: CountDto })
  recover(@Tenant() t: TenantCtx, @Param('id') id: string, @Body() body: RecoverDto) {
    return this.deliveries.recover(t, id, new Date(body.since));
  }
}
