import { Inject, Module } from '@nestjs/common';
import type { TidingsKafkaServer } from '@tidings/kafka';
import { KAFKA_TRANSPORTS, READINESS_CHECKS, type ReadinessCheck } from '@tidings/runtime';
import { FanoutConsumer, FanoutTransport } from './fanout.consumer';
import { FanoutWorker } from './fanout.worker';
import { SseMetrics } from './sse.metrics';
import { StreamAuthService } from './stream-auth.service';
import { StreamRoute } from './stream.route';
import { StreamService } from './stream.service';

@Module({
  controllers: [FanoutConsumer],
  providers: [SseMetrics, FanoutWorker, FanoutTransport, StreamAuthService, StreamService, StreamRoute],
})
export class StreamModule {
  constructor(
    consumer: FanoutTransport,
    @Inject(KAFKA_TRANSPORTS) transports: TidingsKafkaServer[],
    @Inject(READINESS_CHECKS) readiness: ReadinessCheck[],
  ) {
    transports.push(consumer);
    // Reported, not required: streams (replay and, through the log, live events) need only the database.
    readiness.push({ name: 'kafka', required: false, check: () => consumer.connected });
  }
}
