import { ConfigError, parseConfig } from '@tidings/runtime';
import { availableParallelism } from 'node:os';
import { relayConfigSchema } from './outbox-relay.config';

function setup(extra: Record<string, string> = {}) {
  const env = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', KAFKA_BROKERS: '127.0.0.1:9092', ...extra };
  return { parse: () => parseConfig(relayConfigSchema, env) };
}

describe('outbox relay config', () => {
  it('has defaults that keep idle latency in milliseconds and batches large', () => {
    const config = setup().parse();
    expect(config.RELAY_BATCH_SIZE).toBe(2_000);
    expect(config.RELAY_IDLE_POLL_MS).toBe(100);
    expect(config.RELAY_SHARD_RENEW_MS).toBe(1_000);
    expect(config.RELAY_SHARD_LEASE_MS).toBe(5_000);
    expect(config.RELAY_FAULT_INJECTION).toBeUndefined();
    expect(config.RELAY_LANES).toBe(Math.min(8, Math.max(2, availableParallelism())));
  });

  it('refuses more lanes than the pool can serve', () => {
    expect(setup({ RELAY_LANES: '8', DB_POOL_SIZE: '10' }).parse().RELAY_LANES).toBe(8);
    const { parse } = setup({ RELAY_LANES: '9', DB_POOL_SIZE: '10' });
    expect(parse).toThrow(/RELAY_LANES: .*DB_POOL_SIZE - 2/);
  });

  it('refuses a shard lease shorter than three renewals', () => {
    const { parse } = setup({ RELAY_SHARD_RENEW_MS: '1000', RELAY_SHARD_LEASE_MS: '2999' });
    expect(parse).toThrow(/RELAY_SHARD_LEASE_MS: .*3 × RELAY_SHARD_RENEW_MS/);
  });

  it('parses a fault injection point when NODE_ENV is test', () => {
    const config = setup({ NODE_ENV: 'test', RELAY_FAULT_INJECTION: 'after-produce:3' }).parse();
    expect(config.RELAY_FAULT_INJECTION).toEqual({ point: 'after-produce', nth: 3 });
  });

  it('refuses to boot with fault injection outside tests', () => {
    const { parse } = setup({ NODE_ENV: 'production', RELAY_FAULT_INJECTION: 'after-produce:1' });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/RELAY_FAULT_INJECTION: .*NODE_ENV=test/);
  });

  it('rejects an unknown fault point with a message naming the variable', () => {
    const { parse } = setup({ NODE_ENV: 'test', RELAY_FAULT_INJECTION: 'somewhere:1' });
    expect(parse).toThrow(/RELAY_FAULT_INJECTION must be <point>:<n>/);
  });
});
