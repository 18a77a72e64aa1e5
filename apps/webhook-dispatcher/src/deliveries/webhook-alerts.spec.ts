import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { DeliveryMetrics } from './delivery-metrics.service';

interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
}

const ALERTS = join(__dirname, '../../../../docs/alerts');

function setup() {
  const registry = new Registry();
  // Gauges query only when scraped; registering them needs no database.
  new DeliveryMetrics(registry, {} as DataSource);
  const sut = load(readFileSync(join(ALERTS, 'webhooks.yml'), 'utf8')) as Rules;
  return { sut, exported: new Set(registry.getMetricsAsArray().map((m) => m.name)) };
}

describe('docs/alerts/webhooks.yml', () => {
  it('alerts on dead letters rising, a disabled subscription, unpublished dead letters and a deep retry queue', () => {
    const { sut } = setup();
    expect(sut.groups.flatMap((g) => g.rules).map((r) => r.alert)).toEqual([
      'WebhookDeadLettersRising',
      'WebhookSubscriptionDisabled',
      'WebhookDeadLettersUnpublished',
      'WebhookRetryQueueDeep',
    ]);
  });

  it('only reads metrics the dispatcher exports', () => {
    const { sut, exported } = setup();
    for (const rule of sut.groups.flatMap((g) => g.rules)) {
      const names = rule.expr.match(/\btidings_[a-z_]+/g) ?? [];
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(exported).toContain(name);
      expect(rule.annotations.summary).toBeTruthy();
    }
  });

  it('passes promtool check rules, for every rule file (.ci/run installs Debian prometheus for promtool)', () => {
    const files = readdirSync(ALERTS)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join(ALERTS, f));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const found = spawnSync('promtool', ['--version']);
    if (found.error) throw new Error('promtool is not installed (Debian: apt-get install prometheus)');
    expect(() => execFileSync('promtool', ['check', 'rules', ...files], { stdio: 'pipe' })).not.toThrow();
  });
});
