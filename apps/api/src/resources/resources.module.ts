import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { RebuildService } from './rebuild.service';
import { ResourcesService } from './resources.service';

/** The aggregate kit's services: ResourcesService for every resource's module (orders, messages), and the rebuild. */
@Module({
  imports: [IdempotencyModule],
  providers: [ResourcesService, RebuildService],
  exports: [ResourcesService, RebuildService],
})
export class ResourcesModule {}
