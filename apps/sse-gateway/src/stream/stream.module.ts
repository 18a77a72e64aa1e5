import { Inject, Module } from '@nestjs/common';
import { READINESS_CHECKS, type ReadinessCheck } from '@tidings/runtime';
import { FanoutWorker } from './fanout.worker';
import { SseMetrics } from './sse.metrics';
import { StreamAuthService } from './stream-auth.service';
import { StreamRoute } from './stream.route';
import { StreamService } from './stream.service';

@Module({
  providers: [SseMetrics, FanoutWorker, StreamAuthService, StreamService, StreamRoute],
})
export class StreamModule {
  constructor(fanout: FanoutWorker, @Inject(READINESS_CHECKS) readiness: ReadinessCheck[]) {
    // Reported, not required: streams (replay and, through the log, live events) need only the database.
    readiness.push({ name: 'kafka', required: false, check: () => fanout.connected });
  }
}
