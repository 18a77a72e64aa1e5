import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { MessagesController } from './messages.controller';
import { MessagesService } from './messages.service';

@Module({ imports: [IdempotencyModule], controllers: [MessagesController], providers: [MessagesService] })
export class MessagesModule {}
