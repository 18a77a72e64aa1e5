import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ApiKeysController } from '../api-keys/api-keys.controller';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { createValidationPipe } from '../http/validation.pipe';
import { StreamTokensController } from '../stream-tokens/stream-tokens.controller';
import { StreamTokensService } from '../stream-tokens/stream-tokens.service';
import { OperatorGuard } from '../tenants/operator.guard';
import { TenantsController } from '../tenants/tenants.controller';
import { TenantsService } from '../tenants/tenants.service';
import { AuthGuard } from './auth.guard';

/** Who may call the API: tenants, their API keys and stream tokens, the guard and DTO validation. */
@Global()
@Module({
  controllers: [TenantsController, ApiKeysController, StreamTokensController],
  providers: [
    AuthGuard,
    { provide: APP_GUARD, useExisting: AuthGuard },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    OperatorGuard,
    TenantsService,
    ApiKeysService,
    StreamTokensService,
  ],
  exports: [AuthGuard],
})
export class AuthModule {}
