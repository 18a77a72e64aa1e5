import { Module } from '@nestjs/common';
import { FanoutWorker } from './fanout.worker';
import { SseMetrics } from './sse.metrics';
import { StreamAuthService } from './stream-auth.service';
import { StreamRoute } from './stream.route';
import { StreamService } from './stream.service';

@Module({
  providers: [SseMetrics, FanoutWorker, StreamAuthService, StreamService, StreamRoute],
})
export class EventsModule {}
