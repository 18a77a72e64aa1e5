import type { INestApplication } from '@nestjs/common';
import { allEventTopics } from '@tidings/events';
import type { AppProcess } from './app-process';
import { kafkaBrokers } from './infra';
import { startPipeline } from './pipeline';

/**
 * What the relay journeys share, on `startPipeline()`: a database and topic prefix of their own, quick shard
 * renewals, and relays started in process (`startRelay`) or as real processes (`spawnRelay`, so they can be
 * SIGKILLed), all with `env` plus `extraEnv`.
 */
export async function relaySetup(brokers = kafkaBrokers(), extraEnv: Record<string, string> = {}) {
  const pipeline = await startPipeline({
    brokers,
    partitions: 6,
    poolSize: 20,
    env: {
      DB_POOL_SIZE: '10',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      RELAY_SHARD_RENEW_MS: '200',
      ...extraEnv,
    },
  });
  return {
    ds: pipeline.ds,
    prefix: pipeline.prefix,
    env: pipeline.env,
    topics: allEventTopics(pipeline.prefix),
    startRelay: async (extra: Record<string, string> = {}): Promise<INestApplication> =>
      (await pipeline.startRelay(extra)).app,
    spawnRelay: (
      extra: Record<string, string> = {},
      opts: { waitForLive?: boolean } = {},
    ): Promise<AppProcess> => pipeline.spawn('outbox-relay', extra, opts),
    teardown: pipeline.teardown,
  };
}
