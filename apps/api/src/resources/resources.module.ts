import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ResourcesService } from './resources.service';

/** The aggregate kit's service, imported by every resource's module (orders, messages). */
@Module({ imports: [IdempotencyModule], providers: [ResourcesService], exports: [ResourcesService] })
export class ResourcesModule {}
