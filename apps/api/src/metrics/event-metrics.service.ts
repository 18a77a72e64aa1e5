import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { onEventsCommitted } from '@tidings/db';
import { METRICS_REGISTRY } from '@tidings/runtime';
import { Counter, type Registry } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * `tidings_events_appended_total{event_type}`: events this process appended AND committed. It listens on the
 * DataSource's appends (`onEventsCommitted`, told by `transaction()` and `writeWithEvent` of @tidings/db) rather
 * than every call site, so events appended by any feature (orders, keys, webhooks…) count, and it counts at
 * commit — a rolled-back mutation's event never existed and is not counted.
 */
@Injectable()
export class EventMetrics implements OnModuleInit {
  readonly appended: Counter<'event_type'>;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly ds: DataSource,
  ) {
    this.appended = new Counter({
      name: 'tidings_events_appended_total',
      help: 'Events appended to the event log by this API process and committed, by event type',
      labelNames: ['event_type'],
      registers: [registry],
    });
  }

  onModuleInit(): void {
    onEventsCommitted(this.ds, (types) => {
      for (const type of types) this.appended.inc({ event_type: type });
    });
  }
}
