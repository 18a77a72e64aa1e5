import { Test } from '@nestjs/testing';
import { InMemoryKafka } from '@tidings/kafka';
import { KAFKA_CLIENT } from '@tidings/runtime';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { OutboxRelayModule } from '../../apps/outbox-relay/src/outbox-relay.module';
import { eventually } from './eventually';

async function unpositioned(ds: DataSource): Promise<number> {
  const [row] = await ds.query<{ n: number }[]>(
    'SELECT count(*)::int AS n FROM event_log WHERE position IS NULL',
  );
  return row.n;
}

/**
 * Gives every committed, unpositioned event of `ds`'s database its position with the real outbox relay (its
 * module, worker, leases and SQL), booted in this process with the in-memory Kafka as its broker: the events
 * reach the log, where the api's event log and the gateway's gap fill read them, and no real topic. Closes the
 * relay (it hands its shards back) once none is left unpositioned; returns how many there were. For tests
 * without a running relay: one beside it would share the shards.
 */
export async function assignPositions(ds: DataSource): Promise<number> {
  const pending = await unpositioned(ds);
  const moduleRef = await Test.createTestingModule({
    imports: [
      OutboxRelayModule.forRoot({
        DATABASE_URL: (ds.options as PostgresDataSourceOptions).url,
        DB_POOL_SIZE: '4',
        RELAY_LANES: '2',
        // Required by the config; the client built from it is replaced by the in-memory Kafka below.
        KAFKA_BROKERS: '127.0.0.1:9',
        LOG_LEVEL: 'error',
      }),
    ],
  })
    .overrideProvider(KAFKA_CLIENT)
    .useValue(new InMemoryKafka())
    .compile();
  const relay = moduleRef.createNestApplication({ bufferLogs: true });
  relay.useLogger(relay.get(PinoNestLogger));
  await relay.init();
  try {
    await eventually(async () => expect(await unpositioned(ds)).toBe(0));
  } finally {
    await relay.close();
  }
  return pending;
}
