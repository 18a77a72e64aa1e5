import type { INestApplication } from '@nestjs/common';
import { createDataSource } from '@tidings/db';
import { allEventTopics } from '@tidings/events';
import { createApp } from '@tidings/runtime';
import type { OutboxRelayConfig } from '../../apps/outbox-relay/src/outbox-relay.config';
import { OutboxRelayModule } from '../../apps/outbox-relay/src/outbox-relay.module';
import { freePort } from '../../scripts/infra/ports';
import { startAppProcess, type AppProcess } from './app-process';
import { createTestDatabase, ensureTestTopics, kafkaBrokers, testTopicPrefix } from './infra';

/**
 * A database of its own, topics under a prefix of its own, and relays started in process (`startRelay`) or
 * as real processes (`spawnRelay`, so they can be SIGKILLed), all with `env` plus `extraEnv`.
 */
export async function relaySetup(brokers = kafkaBrokers(), extraEnv: Record<string, string> = {}) {
  const db = await createTestDatabase();
  const prefix = testTopicPrefix();
  await ensureTestTopics(prefix, allEventTopics(''), 6).catch(async (e) => {
    if (brokers === kafkaBrokers()) throw e;
  });
  const ds = createDataSource(db.url, 20);
  await ds.initialize();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    RELAY_SHARD_RENEW_MS: '200',
    ...extraEnv,
  };
  const apps: INestApplication[] = [];
  const processes: AppProcess[] = [];
  return {
    ds,
    prefix,
    env,
    topics: allEventTopics(prefix),
    startRelay: async (extra: Record<string, string> = {}) => {
      const { app } = await createApp<OutboxRelayConfig>(
        () => OutboxRelayModule.forRoot({ ...env, RELAY_PORT: '0', ...extra }),
        {
          app: 'outbox-relay',
          port: (c) => c.RELAY_PORT,
        },
      );
      apps.push(app);
      return app;
    },
    spawnRelay: async (extra: Record<string, string> = {}, opts: { waitForLive?: boolean } = {}) => {
      const port = await freePort();
      const p = await startAppProcess(
        'outbox-relay',
        { ...env, RELAY_PORT: String(port), ...extra },
        port,
        opts,
      );
      processes.push(p);
      return p;
    },
    teardown: async () => {
      for (const p of processes) await p.kill('SIGKILL');
      for (const a of apps) await a.close();
      await ds.destroy();
      await db.drop();
    },
  };
}
