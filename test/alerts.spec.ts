import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { RelayMetrics } from '../apps/outbox-relay/src/relay/relay-metrics.service';
import { DeliveryMetrics } from '../apps/webhook-dispatcher/src/deliveries/delivery-metrics.service';

interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
}

const ALERTS = join(__dirname, '../docs/alerts');

/** Each rule file with the metrics its app exports (gauges query only when scraped: no database needed). */
function setup() {
  const exported = (register: (r: Registry) => void) => {
    const registry = new Registry();
    register(registry);
    return new Set(registry.getMetricsAsArray().map((m) => m.name));
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

  it('only reads metrics the app exports, and says what each alert means', () => {
    const { files, relay, webhooks } = setup();
    expect(files.sort()).toEqual(['relay.yml', 'webhooks.yml']);
    for (const { rules, exported } of [relay, webhooks])
      for (const rule of rules) {
        const names = rule.expr.match(/\btidings_[a-z_]+/g) ?? [];
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
