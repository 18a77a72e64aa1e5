import { Module } from '@nestjs/common';
import { OperatorGuard } from './operator.guard';
import { TenantsController } from './tenants.controller';
import { TenantsService } from './tenants.service';

/** `POST /tenants`: the platform operator creates a tenant and its first admin key. */
@Module({ controllers: [TenantsController], providers: [TenantsService, OperatorGuard] })
export class TenantsModule {}
