import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import {
  CountDto,
  DeliveriesQueryDto,
  DeliveryDetailDto,
  DeliveryDto,
  DeliveryPageDto,
  RecoverDto,
} from './deliveries.dto';
import { DeliveriesService } from './deliveries.service';

@ApiTags('deliveries')
@ApiBearerAuth()
@Controller()
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get('webhooks/:id/deliveries')
  @ApiOperation({ summary: "A subscription's delivery log, newest event first" })
  @ApiOkResponse({ type: DeliveryPageDto })
  list(@Tenant() t: TenantCtx, @Param('id') id: string, @Query() q: DeliveriesQueryDto) {
    return this.deliveries.list(t, { ...q, subscriptionId: id });
  }

  @Post('webhooks/:id/recover')
  @HttpCode(202)
  @ApiOperation({ summary: 'Re-deliver everything that failed or died since a time' })
  @ApiAcceptedResponse({ type: CountDto })
  recover(@Tenant() t: TenantCtx, @Param('id') id: string, @Body() body: RecoverDto) {
    return this.deliveries.recover(t, id, new Date(body.since));
  }

  @Get('deliveries/:id')
  @ApiOperation({ summary: 'One delivery with every attempt' })
  @ApiOkResponse({ type: DeliveryDetailDto })
  get(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.deliveries.get(t, id);
  }

  @Post('deliveries/:id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Attempt this delivery again now' })
  @ApiAcceptedResponse({ type: DeliveryDto })
  @ApiConflictResponse({ description: "The delivery's subscription is disabled or deleted" })
  retry(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.deliveries.retry(t, id);
  }
}
