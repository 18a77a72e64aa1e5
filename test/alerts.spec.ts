import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { InMemoryKafka } from '@tidings/kafka';
import { createRegistry, HttpMetrics, watchConsumerLag } from '@tidings/runtime';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { EventMetrics } from '../apps/api/src/metrics/event-metrics.service';
import { RelayMetrics } from '../apps/outbox-relay/src/relay/relay-metrics.service';
import { SseMetrics } from '../apps/sse-gateway/src/stream/sse.metrics';
import { DeliveryMetrics } from '../apps/webhook-dispatcher/src/deliveries/delivery-metrics.service';

interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
}

const ALERTS = join(__dirname, '../docs/alerts');
const DASHBOARD = join(__dirname, '../docs/grafana/tidings.json');

/** The series names a registry's metrics expose: a histogram's as _bucket, _sum and _count. */
function seriesOf(registry: Registry): Set<string> {
  return new Set(
    registry
      .getMetricsAsArray()
      .flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
  );
}

/** Every series any app exports: each app's metric classes, the runtime's HTTP, lag and default metrics. */
function everyAppsSeries(): Set<string> {
  const registry = createRegistry('any');
  new HttpMetrics(registry);
  watchConsumerLag(registry, new InMemoryKafka());
  new EventMetrics(registry, {} as DataSource);
  new RelayMetrics(registry);
  new DeliveryMetrics(registry, {} as DataSource);
  new SseMetrics(registry);
  return seriesOf(registry);
}

// Metric names in a PromQL expression: the namespaces Tidings' apps export under (their own, the HTTP
// middleware's, prom-client's default process and Node.js metrics).
const metricNames = (expr: string) => expr.match(/\b(tidings|http|process|nodejs)_[a-z0-9_]+/g) ?? [];

/** Each rule file with the metrics its app exports (gauges query only when scraped: no database needed). */
function setup() {
  const exported = (register: (r: Registry) => void) => {
    const registry = new Registry();
    register(registry);
    return seriesOf(registry);
  };
  const rules = (file: string) =>
    (load(readFileSync(join(ALERTS, file), 'utf8')) as Rules).groups.flatMap((g) => g.rules);
  return {
    files: readdirSync(ALERTS).filter((f) => f.endsWith('.yml')),
    relay: { rules: rules('relay.yml'), exported: exported((r) => new RelayMetrics(r)) },
    webhooks: {
      rules: rules('webhooks.yml'),
      exported: exported((r) => new DeliveryMetrics(r, {} as DataSource)),
    },
    pipeline: { rules: rules('pipeline.yml'), exported: everyAppsSeries() },
  };
}

describe('docs/alerts', () => {
  it('alerts on parked events, repeated too-large refusals and an old relay backlog', () => {
    expect(setup().relay.rules.map((r) => r.alert)).toEqual([
      'RelayEventsParked',
      'RelayRefusedTooLarge',
      'RelayBacklogOld',
    ]);
    expect(setup().relay.rules[0].expr).toContain('tidings_relay_parked');
  });

  it('alerts on dead letters rising, a disabled subscription, unpublished dead letters and a deep retry queue', () => {
    expect(setup().webhooks.rules.map((r) => r.alert)).toEqual([
      'WebhookDeadLettersRising',
      'WebhookSubscriptionDisabled',
      'WebhookDeadLettersUnpublished',
      'WebhookRetryQueueDeep',
    ]);
  });

  it('alerts on consumer lag and slow commit → Kafka, → SSE and → webhook latency', () => {
    expect(setup().pipeline.rules.map((r) => r.alert)).toEqual([
      'KafkaConsumerLagHigh',
      'RelayCommitToKafkaSlow',
      'SseCommitToSentSlow',
      'WebhookCommitToDeliveredSlow',
    ]);
  });

  it('only reads metrics the app exports, and says what each alert means', () => {
    const { files, relay, webhooks, pipeline } = setup();
    expect(files.sort()).toEqual(['pipeline.yml', 'relay.yml', 'webhooks.yml']);
    for (const { rules, exported } of [relay, webhooks, pipeline])
      for (const rule of rules) {
        const names = metricNames(rule.expr);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) expect(exported).toContain(name);
        expect(rule.annotations.summary).toBeTruthy();
      }
  });

  it('passes promtool check rules (.ci/run installs Debian prometheus for promtool)', () => {
    const files = setup().files.map((f) => join(ALERTS, f));
    if (spawnSync('promtool', ['--version']).error)
      throw new Error('promtool is not installed (Debian: apt-get install prometheus)');
    expect(() => execFileSync('promtool', ['check', 'rules', ...files], { stdio: 'pipe' })).not.toThrow();
  });
});

describe('docs/grafana', () => {
  interface Dashboard {
    uid: string;
    panels: { title: string; targets: { expr: string }[] }[];
  }
  const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  it('queries only metrics the apps export, in every panel', () => {
    const exported = everyAppsSeries();
    const { panels } = dashboard();
    expect(panels.length).toBeGreaterThan(5);
    for (const panel of panels) {
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        const names = metricNames(expr);
        expect({ panel: panel.title, expr, names: names.length > 0 }).toEqual({
          panel: panel.title,
          expr,
          names: true,
        });
        for (const name of names)
          expect({ panel: panel.title, name, exported: exported.has(name) }).toEqual({
            panel: panel.title,
            name,
            exported: true,
          });
      }
    }
  });

  it('shows the end-to-end latencies and the consumer lag', () => {
    const queried = dashboard().panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr)));
    for (const name of [
      'tidings_relay_commit_to_kafka_seconds_bucket',
      'tidings_webhook_commit_to_delivered_seconds_bucket',
      'tidings_sse_commit_to_sent_seconds_bucket',
      'tidings_kafka_consumer_lag',
      'tidings_relay_oldest_unpublished_age_seconds',
    ])
      expect(queried).toContain(name);
  });
});
