import { Module } from '@nestjs/common';
import { EventMetrics } from './event-metrics.service';

/** The API's own metrics on the runtime registry (request metrics come from the runtime). */
@Module({ providers: [EventMetrics] })
export class MetricsModule {}
