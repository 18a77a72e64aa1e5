import { Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';
import { RebuildService } from './rebuild.service';

@Module({
  controllers: [EventsController],
  providers: [EventsService, RebuildService],
  exports: [EventsService, RebuildService],
})
export class EventsModule {}
