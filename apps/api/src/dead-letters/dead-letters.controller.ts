import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { CountDto, DeliveryDetailDto, DeliveryPageDto } from '../deliveries/deliveries.dto';
import { DeadLettersQueryDto, ReplayDeadLettersDto } from './dead-letters.dto';
import { DeadLettersService } from './dead-letters.service';

@ApiTags('dead-letters')
@ApiBearerAuth()
@Controller('dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @ApiOperation({ summary: 'Deliveries that exhausted their retry schedule, newest event first' })
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiNotFoundResponse({ description: '`subscriptionId` names no subscription of the tenant' })
  list(@Tenant() t: TenantCtx, @Query() q: DeadLettersQueryDto) {
    return this.deadLetters.list(t, q);
  }

  // Declared before ':id/replay' so `replay` is never read as an id.
  @Post('replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replay every dead letter matching the filter (or count them with dryRun)' })
  @ApiAcceptedResponse({ type: CountDto })
  replayMany(@Tenant() t: TenantCtx, @Body() body: ReplayDeadLettersDto) {
    return this.deadLetters.replayMany(t, body);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replay one dead letter with a fresh retry schedule' })
  @ApiAcceptedResponse({ type: DeliveryDetailDto })
  @ApiConflictResponse({ description: 'Not a dead letter, or its subscription is disabled or deleted' })
  replayOne(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.deadLetters.replayOne(t, id);
  }
}
