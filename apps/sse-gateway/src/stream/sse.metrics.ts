import { Inject, Injectable } from '@nestjs/common';
import { E2E_LATENCY_BUCKETS, METRICS_REGISTRY } from '@tidings/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DisconnectReason = 'client_closed' | 'slow_consumer' | 'shutdown' | 'error' | 'revoked';

@Injectable()
export class SseMetrics {
  readonly connections: Gauge;
  readonly sent: Counter;
  readonly replayed: Counter;
  readonly disconnects: Counter<'reason'>;
  readonly gapFills: Counter;
  readonly commitToSent: Histogram;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.commitToSent = new Histogram({
      name: 'tidings_sse_commit_to_sent_seconds',
      help: "From an event's commit (its timestamp) to its live frame written to the gateway's streams",
      buckets: E2E_LATENCY_BUCKETS,
      registers: [registry],
    });
    this.connections = new Gauge({
      name: 'tidings_sse_connections',
      help: 'Open SSE connections on this gateway',
      registers: [registry],
    });
    this.sent = new Counter({
      name: 'tidings_sse_events_sent_total',
      help: 'Event frames written to SSE clients (live and replayed)',
      registers: [registry],
    });
    this.replayed = new Counter({
      name: 'tidings_sse_events_replayed_total',
      help: 'Event frames replayed from the event log for Last-Event-ID resumes',
      registers: [registry],
    });
    this.disconnects = new Counter({
      name: 'tidings_sse_disconnects_total',
      help: 'SSE connections closed, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.gapFills = new Counter({
      name: 'tidings_sse_gap_fill_events_total',
      help: 'Positions the fan-out read from the event log because Kafka had not delivered them in time',
      registers: [registry],
    });
  }
}
