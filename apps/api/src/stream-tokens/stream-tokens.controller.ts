import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireScope, Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { CreateStreamTokenDto } from './stream-tokens.dto';
import { StreamTokensService } from './stream-tokens.service';

@ApiTags('stream-tokens')
@ApiBearerAuth()
@Controller('stream-tokens')
export class StreamTokensController {
  constructor(private readonly tokens: StreamTokensService) {}

  /** A read-only token for GET /events/stream on the SSE gateway; any key with read scope may mint one. */
  @Post()
  @RequireScope('read')
  create(@Tenant() t: TenantCtx, @Body() body: CreateStreamTokenDto) {
    return this.tokens.create(t, body.eventTypes, body.ttlSeconds);
  }
}
