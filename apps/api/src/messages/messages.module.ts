import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module';
import { MessagesController } from './messages.controller';
import { MessagesService } from './messages.service';

@Module({ imports: [ResourcesModule], controllers: [MessagesController], providers: [MessagesService] })
export class MessagesModule {}
