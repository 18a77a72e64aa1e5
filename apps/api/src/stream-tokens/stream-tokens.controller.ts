import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope, Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { CreateStreamTokenDto, StreamTokenDto } from './stream-tokens.dto';
import { StreamTokensService } from './stream-tokens.service';

@ApiTags('stream-tokens')
@ApiBearerAuth()
@Controller('stream-tokens')
export class StreamTokensController {
  constructor(private readonly tokens: StreamTokensService) {}

  /** A read-only token for GET /events/stream on the SSE gateway; any key with read scope may mint one. */
  @Post()
  @ApiOperation({ summary: 'Mint a read-only Server-Sent Events token scoped to event types' })
  @ApiCreatedResponse({ type: StreamTokenDto })
  @RequireScope('read')
  create(@Tenant() t: TenantCtx, @Body() body: CreateStreamTokenDto) {
    return this.tokens.create(t, body.eventTypes, body.ttlSeconds);
  }
}
