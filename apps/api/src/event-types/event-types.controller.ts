import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { EventTypeDto, EventTypeListDto } from './event-types.dto';
import { EventTypesService } from './event-types.service';

/** The catalogue is public to every tenant: any authenticated key with `read` (the default for GET). */
@ApiTags('event-types')
@ApiBearerAuth()
@Controller('event-types')
export class EventTypesController {
  constructor(private readonly eventTypes: EventTypesService) {}

  @Get()
  @ApiOperation({ summary: 'Every event type with its versions, JSON Schemas, examples and deprecations' })
  @ApiOkResponse({ type: EventTypeListDto })
  list() {
    return this.eventTypes.list();
  }

  @Get(':type')
  @ApiOperation({ summary: 'One event type' })
  @ApiParam({ name: 'type', example: 'order.created' })
  @ApiOkResponse({ type: EventTypeDto })
  get(@Param('type') type: string) {
    return this.eventTypes.get(type);
  }
}
