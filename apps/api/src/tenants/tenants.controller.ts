import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Public } from '../auth/tenant.decorator';
import { OperatorGuard } from './operator.guard';
import { CreatedTenantDto, CreateTenantDto } from './tenants.dto';
import { TenantsService } from './tenants.service';

/** Platform-operator route, guarded by ADMIN_API_KEY (OperatorGuard) instead of a tenant key. */
@ApiTags('tenants')
@ApiBearerAuth('operator')
@Controller('tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Public()
  @UseGuards(OperatorGuard)
  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a tenant and its first admin key (platform operator only)' })
  @ApiCreatedResponse({ type: CreatedTenantDto })
  @ApiNotFoundResponse({ description: 'Tenant creation over HTTP is disabled: ADMIN_API_KEY is not set' })
  @ApiTooManyRequestsResponse({
    description: 'Too many attempts from this address: retry after `Retry-After` seconds',
  })
  create(@Body() body: CreateTenantDto) {
    return this.tenants.create(body.name);
  }
}
