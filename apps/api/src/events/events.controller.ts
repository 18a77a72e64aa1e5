import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import {
  EventEnvelopeDto,
  EventPageDto,
  parseEventId,
  parseEventQuery,
  parseVersionParam,
} from './events.dto';
import { EventsService } from './events.service';

@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @ApiOperation({
    summary: 'The audit log',
    description:
      "The tenant's events in global position order (only events the relay has positioned). Page with " +
      '`after` = the previous `nextAfter`: every event appears exactly once.',
  })
  @ApiQuery({ name: 'type', required: false, type: String, description: 'order.shipped, order.* or *' })
  @ApiQuery({ name: 'resourceType', required: false, type: String })
  @ApiQuery({ name: 'resourceId', required: false, type: String })
  @ApiQuery({ name: 'after', required: false, type: Number, description: 'Position cursor (exclusive)' })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1-1000, default 100' })
  @ApiQuery({ name: 'version', required: false, type: Number, description: 'Render at this version' })
  @ApiOkResponse({ type: EventPageDto })
  list(@Tenant() t: TenantCtx, @Query() query: Record<string, unknown>) {
    return this.events.list(t, parseEventQuery(query));
  }

  @Get(':eventId')
  @ApiOperation({ summary: 'One event by id' })
  @ApiParam({ name: 'eventId', format: 'uuid' })
  @ApiQuery({ name: 'version', required: false, type: Number, description: 'Render at this version' })
  @ApiOkResponse({ type: EventEnvelopeDto })
  get(@Tenant() t: TenantCtx, @Param('eventId') eventId: string, @Query('version') version?: unknown) {
    return this.events.get(t, parseEventId(eventId), parseVersionParam(version));
  }
}
