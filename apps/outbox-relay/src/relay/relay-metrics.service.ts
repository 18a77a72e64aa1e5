import { Inject, Injectable } from '@nestjs/common';
import { E2E_LATENCY_BUCKETS, METRICS_REGISTRY } from '@tidings/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The relay's own metrics, registered on the app's registry (served at /metrics). */
@Injectable()
export class RelayMetrics {
  readonly leader: Gauge;
  readonly shardsHeld: Gauge;
  readonly backlog: Gauge;
  readonly oldestUnpublishedAge: Gauge;
  readonly published: Counter;
  readonly parked: Counter<'cause'>;
  readonly parkedNow: Gauge;
  readonly refusedTooLarge: Counter;
  readonly sequenced: Counter;
  readonly batchDuration: Histogram;
  readonly failures: Counter<'stage'>;
  readonly stageDuration: Histogram<'stage'>;
  readonly commitToKafka: Histogram;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.commitToKafka = new Histogram({
      name: 'tidings_relay_commit_to_kafka_seconds',
      help: "From an event's commit (its timestamp) to Kafka's acknowledgement of its record",
      buckets: E2E_LATENCY_BUCKETS,
      registers: [registry],
    });
    this.leader = new Gauge({
      name: 'tidings_relay_leader',
      help: '1 while this relay holds at least one sequencing shard and does its work, 0 while it holds none',
      registers: [registry],
    });
    this.leader.set(0);
    this.shardsHeld = new Gauge({
      name: 'tidings_relay_shards_held',
      help: 'Sequencing shards whose lease this relay holds (their sum over the relays is the shard count)',
      registers: [registry],
    });
    this.shardsHeld.set(0);
    this.backlog = new Gauge({
      name: 'tidings_relay_backlog',
      help: 'Committed events not yet published to Kafka (unpositioned + positioned-but-unpublished)',
      registers: [registry],
    });
    this.oldestUnpublishedAge = new Gauge({
      name: 'tidings_relay_oldest_unpublished_age_seconds',
      help: 'Age of the oldest committed event not yet published (0 when none)',
      registers: [registry],
    });
    this.published = new Counter({
      name: 'tidings_relay_published_total',
      help: 'Events published to Kafka and marked published (republished ones count again)',
      registers: [registry],
    });
    this.parked = new Counter({
      name: 'tidings_relay_parked_total',
      help: 'Events parked instead of published: too_large = the broker refused the event alone; held = behind a parked event of its resource',
      labelNames: ['cause'],
      registers: [registry],
    });
    this.parkedNow = new Gauge({
      name: 'tidings_relay_parked',
      help: 'Events parked and not yet republished (they wait for the broker limit to be raised)',
      registers: [registry],
    });
    this.refusedTooLarge = new Counter({
      name: 'tidings_relay_refused_too_large_total',
      help: 'Produce requests the broker refused as too large (split and sent again; a single event refused is parked)',
      registers: [registry],
    });
    this.sequenced = new Counter({
      name: 'tidings_relay_sequenced_total',
      help: "Events given their tenant's next position",
      registers: [registry],
    });
    this.batchDuration = new Histogram({
      name: 'tidings_relay_batch_duration_seconds',
      help: 'Duration of one relay cycle that did work (sequence + produce + mark)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
    this.stageDuration = new Histogram({
      name: 'tidings_relay_stage_duration_seconds',
      help: 'Duration of each stage of a relay cycle (probe, sequence, load, produce, mark)',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10],
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'tidings_relay_cycle_failures_total',
      help: 'Relay cycles that failed and were retried after a backoff, by stage',
      labelNames: ['stage'],
      registers: [registry],
    });
  }
}
