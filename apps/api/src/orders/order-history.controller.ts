import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { EventListDto } from '../events/events.dto';
import { OrderHistoryService } from './order-history.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('orders')
export class OrderHistoryController {
  constructor(private readonly history: OrderHistoryService) {}

  @Get(':id/history')
  @ApiOperation({
    summary: "The order's audit trail",
    description:
      'Every committed event of the order in sequence order, including events not yet positioned by the ' +
      'relay (`position: null`). Deleted orders keep their history.',
  })
  @ApiParam({ name: 'id', description: 'Order id' })
  @ApiOkResponse({ type: EventListDto })
  get(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.history.history(t, id);
  }
}
