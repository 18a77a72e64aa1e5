import { Module } from '@nestjs/common';
import { FanoutWorker } from './fanout.worker';
import { SseMetrics } from './sse.metrics';
import { StreamAuthService } from './stream-auth.service';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';

@Module({
  controllers: [StreamController],
  providers: [SseMetrics, FanoutWorker, StreamAuthService, StreamService],
})
export class EventsModule {}
