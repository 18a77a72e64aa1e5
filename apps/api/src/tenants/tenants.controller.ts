import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  create(@Body() body: CreateTenantDto) {
    return this.tenants.create(body.name);
  }
}
