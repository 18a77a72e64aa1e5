import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireScope, Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { CreateApiKeyDto } from './api-keys.dto';
import { ApiKeysService } from './api-keys.service';

@ApiTags('api-keys')
@ApiBearerAuth()
@RequireScope('admin')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  /** Issues a key; the response is the only time the key is shown. */
  @Post()
  create(@Tenant() t: TenantCtx, @Body() body: CreateApiKeyDto) {
    return this.keys.create(t, body.name, body.scopes);
  }

  @Get()
  async list(@Tenant() t: TenantCtx) {
    return { data: await this.keys.list(t) };
  }

  @Delete(':id')
  revoke(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.keys.revoke(t, id);
  }
}
