import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, ProblemError } from '@tidings/runtime';
import { timingSafeEqual } from 'node:crypto';
import type { ApiConfig } from '../api.config';
import { unauthorized } from '../auth/auth.guard';
import { Public } from '../auth/tenant.decorator';
import { CreatedTenantDto, CreateTenantDto } from './tenants.dto';
import { TenantsService } from './tenants.service';

/** Platform-operator route, guarded by ADMIN_API_KEY instead of a tenant key. */
@ApiTags('tenants')
@ApiBearerAuth('operator')
@Controller('tenants')
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Public()
  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a tenant and its first admin key (platform operator only)' })
  @ApiCreatedResponse({ type: CreatedTenantDto })
  create(@Headers('authorization') authorization: string | undefined, @Body() body: CreateTenantDto) {
    const admin = this.config.ADMIN_API_KEY;
    if (!admin)
      throw new ProblemError(
        404,
        'Not Found',
        'Tenant creation over HTTP is disabled (ADMIN_API_KEY is not set)',
      );
    const given = Buffer.from(/^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '');
    const expected = Buffer.from(admin);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw unauthorized('The platform admin key is required');
    return this.tenants.create(body.name);
  }
}
