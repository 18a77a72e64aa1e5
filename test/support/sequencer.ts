import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { OutboxService } from '../../apps/outbox-relay/src/relay/outbox.service';

const BATCH = 10_000;

/**
 * The outbox relay's own sequencer (OutboxService.sequence), run until nothing is left, without the relay
 * process: gives every committed, unsequenced event its tenant's next positions, exactly as the relay does
 * (minus publishing). Deterministic: tests of the event log API need positions without running a relay.
 * Runs on `client` when given (a kept connection), else on a connection of its own. Returns how many events
 * it positioned.
 */
export async function assignPositions(ds: DataSource, client?: Client): Promise<number> {
  const db = client ?? (await connect(ds));
  try {
    let total = 0;
    for (;;) {
      const n = await new OutboxService().sequence(db, BATCH, () => undefined);
      total += n;
      if (n < BATCH) return total;
    }
  } finally {
    if (!client) await db.end();
  }
}

/** A dedicated connection to the DataSource's database (the sequencer runs its transaction on one). */
export async function connect(ds: DataSource): Promise<Client> {
  const client = new Client({ connectionString: (ds.options as PostgresDataSourceOptions).url });
  await client.connect();
  return client;
}
