import { Module } from '@nestjs/common';
import { StreamTokensController } from './stream-tokens.controller';
import { StreamTokensService } from './stream-tokens.service';

/** `POST /stream-tokens`: short-lived, type-limited credentials for the SSE gateway. */
@Module({ controllers: [StreamTokensController], providers: [StreamTokensService] })
export class StreamTokensModule {}
