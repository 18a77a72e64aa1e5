import type { INestApplication } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tidings/runtime';
import { spawnSync } from 'node:child_process';
import type { Registry } from 'prom-client';

/** One metric family: its samples with their labels (histograms: `metricName` tells _bucket, _sum, _count). */
export type Family = Omit<Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number], 'values'> & {
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
};

/**
 * An app's /metrics as Prometheus takes it: the exposition is read by `promtool check metrics` (Prometheus' own
 * parser and lint; .ci/run installs Debian's prometheus), and the families are returned from the app's registry —
 * what that exposition was written from — with their default labels, by name.
 */
export async function scrape(app: INestApplication, url: string): Promise<Map<string, Family>> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: await res.text(), encoding: 'utf8' });
  if (checked.error) throw new Error('promtool is not installed (Debian: apt-get install prometheus)');
  // A parse error fails; so does any lint problem but those of prom-client's default collectors (their
  // `nodejs_active_*_total` gauges), whose names are not ours to choose.
  const problems = `${checked.stdout}${checked.stderr}`
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^nodejs_\S+ /.test(line));
  if (problems.length > 0) throw new Error(`promtool check metrics:\n${problems.join('\n')}`);
  const registry = app.get<Registry>(METRICS_REGISTRY);
  const families = (await registry.getMetricsAsJSON()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}
