import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { RequireScope, Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { ApiKeyDto, ApiKeyListDto, CreateApiKeyDto, IssuedApiKeyDto } from './api-keys.dto';
import { ApiKeysService } from './api-keys.service';

@ApiTags('api-keys')
@ApiBearerAuth()
@RequireScope('admin')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  /** Issues a key; the response is the only time the key is shown. */
  @Post()
  @ApiOperation({ summary: 'Issue an API key (emits api_key.created); the key is shown only here' })
  @ApiCreatedResponse({ type: IssuedApiKeyDto })
  create(@Tenant() t: TenantCtx, @Body() body: CreateApiKeyDto) {
    return this.keys.create(t, body.name, body.scopes);
  }

  @Get()
  @ApiOperation({ summary: "The tenant's API keys (never the keys themselves)" })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(@Tenant() t: TenantCtx) {
    return { data: await this.keys.list(t) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API key (emits api_key.revoked)' })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiConflictResponse({ description: 'The key is already revoked' })
  revoke(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.keys.revoke(t, id);
  }
}
