import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Registry } from 'prom-client';
import { RelayMetrics } from './relay-metrics.service';

interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
}

function setup() {
  const registry = new Registry();
  new RelayMetrics(registry);
  const sut = load(readFileSync(join(__dirname, '../../../../docs/alerts/relay.yml'), 'utf8')) as Rules;
  return { sut, exported: new Set(registry.getMetricsAsArray().map((m) => m.name)) };
}

describe('docs/alerts/relay.yml', () => {
  it('alerts on parked events, repeated too-large refusals and an old backlog', () => {
    const { sut } = setup();
    const rules = sut.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'RelayEventsParked',
      'RelayRefusedTooLarge',
      'RelayBacklogOld',
    ]);
    expect(rules[0].expr).toContain('tidings_relay_parked');
  });

  it('only reads metrics the relay exports', () => {
    const { sut, exported } = setup();
    for (const rule of sut.groups.flatMap((g) => g.rules)) {
      const names = rule.expr.match(/\btidings_[a-z_]+/g) ?? [];
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(exported).toContain(name);
      expect(rule.annotations.summary).toBeTruthy();
    }
  });
});
