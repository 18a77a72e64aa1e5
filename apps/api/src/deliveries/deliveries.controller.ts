import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { DeliveryDetailDto, DeliveryDto } from './deliveries.dto';
import { DeliveriesService } from './deliveries.service';

@ApiTags('deliveries')
@ApiBearerAuth()
@Controller('deliveries')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get(':id')
  @ApiOperation({ summary: 'One delivery with every attempt' })
  @ApiOkResponse({ type: DeliveryDetailDto })
  get(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.deliveries.get(t, id);
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Attempt this delivery again now' })
  @ApiAcceptedResponse({ type: DeliveryDto })
  @ApiConflictResponse({ description: "The delivery's subscription is disabled or deleted" })
  retry(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.deliveries.retry(t, id);
  }
}
