import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { eventTypePatterns } from '@tidings/events';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import {
  DEFAULT_EVENTS_LIMIT,
  MAX_EVENTS_LIMIT,
  MAX_VERSION,
  RESOURCE_ID,
  RESOURCE_TYPES,
  EventEnvelopeDto,
  EventPageDto,
  parseEventId,
  parseEventQuery,
  parseVersionQuery,
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
      "The tenant's events in position order (the tenant's own dense order, 1, 2, 3…; only events the relay " +
      'has positioned). Page with ' +
      '`after` = the previous `nextAfter`: every event appears exactly once.',
  })
  @ApiQuery({
    name: 'type',
    required: false,
    style: 'form',
    explode: false,
    schema: { type: 'array', minItems: 1, items: { type: 'string', enum: eventTypePatterns() } },
    description: 'Exact type (order.shipped), prefix wildcard (order.*) or *; comma-separate several',
  })
  @ApiQuery({ name: 'resourceType', required: false, enum: RESOURCE_TYPES })
  @ApiQuery({ name: 'resourceId', required: false, schema: { type: 'string', pattern: RESOURCE_ID.source } })
  @ApiQuery({
    name: 'after',
    required: false,
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
    description: 'Position cursor (exclusive): the `nextAfter` of the previous page',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_EVENTS_LIMIT, default: DEFAULT_EVENTS_LIMIT },
  })
  @ApiQuery({
    name: 'version',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_VERSION },
    description: 'Render `data` at this schema version; requires `type` to be one exact event type',
  })
  @ApiOkResponse({ type: EventPageDto })
  list(@Tenant() t: TenantCtx, @Query() query: Record<string, unknown>) {
    return this.events.list(t, parseEventQuery(query));
  }

  @Get(':eventId')
  @ApiOperation({ summary: 'One event by id' })
  @ApiParam({ name: 'eventId', schema: { type: 'string', format: 'uuid' } })
  @ApiQuery({
    name: 'version',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_VERSION },
  })
  @ApiOkResponse({ type: EventEnvelopeDto })
  get(@Tenant() t: TenantCtx, @Param('eventId') eventId: string, @Query() query: Record<string, unknown>) {
    return this.events.get(t, parseEventId(eventId), parseVersionQuery(query));
  }
}
