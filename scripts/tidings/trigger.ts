/**
 * `tidings trigger <eventType>`: makes the event happen the way an application would, through the API
 * (so it goes through the outbox, the relay and every consumer like any other).
 */
import { randomUUID } from 'node:crypto';
import { CliError, EXIT, needApiKey, parse, required, type CliEnv } from './main';

const SAMPLES: Record<string, { path: string; body: unknown }> = {
  'order.created': {
    path: '/orders',
    body: {
      customerId: 'cus_sample',
      currency: 'EUR',
      items: [{ sku: 'TSHIRT-M', quantity: 2, unitPriceMinor: 1950 }],
    },
  },
  'message.received': {
    path: '/messages',
    body: { from: 'sample@example.com', channel: 'support', body: 'Hello from tidings trigger' },
  },
};

export async function trigger(args: string[], env: CliEnv): Promise<number> {
  const { values, positionals } = parse(args, { 'api-key': { type: 'string' } });
  const type = required(positionals[0], 'trigger <eventType>');
  const sample = SAMPLES[type];
  if (!sample) {
    throw new CliError(
      `cannot trigger ${type}: choose one of ${Object.keys(SAMPLES).join(', ')}`,
      EXIT.usage,
    );
  }
  const key = needApiKey(env, values['api-key']);
  const res = await fetch(`${env.apiUrl}${sample.path}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify(sample.body),
  });
  const text = await res.text();
  if (!res.ok) throw new CliError(`POST ${sample.path} answered ${res.status}: ${text}`);
  const created = JSON.parse(text) as { id: string };
  process.stdout.write(`Triggered ${type}: created ${created.id} (POST ${sample.path} → ${res.status})\n`);
  return EXIT.ok;
}
