import { SchedulerRegistry } from '@nestjs/schedule';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import type { OutboxRelayConfig } from '../../apps/outbox-relay/src/outbox-relay.config';
import { OutboxService, SequencingConnection } from '../../apps/outbox-relay/src/relay/outbox.service';
import { RelayMetrics } from '../../apps/outbox-relay/src/relay/relay-metrics.service';
import { ShardLeases } from '../../apps/outbox-relay/src/relay/shard-leases.service';

const BATCH = 10_000;

/** The sequencer a running TestPublisher holds the shards with, per database: assignPositions uses it. */
const running = new WeakMap<DataSource, TestSequencer>();

/**
 * The outbox relay's own sequencing (ShardLeases + OutboxService.sequence) without the relay process or its
 * publishing: takes the leases of every shard (alone among relays, its fair share is all of them), then gives
 * every committed, unsequenced event its tenant's next positions exactly as the relay does. Tests of the event
 * log API need positions without running a relay; a relay started in the same database meanwhile would share
 * the shards with it.
 */
export class TestSequencer {
  private readonly leases: ShardLeases;
  private readonly outbox = new OutboxService();
  private readonly connection: SequencingConnection;
  /** One sequencing pass at a time: they share one connection. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly ds: DataSource) {
    const config = {
      DATABASE_URL: (ds.options as PostgresDataSourceOptions).url,
      RELAY_SHARD_LEASE_MS: 600_000,
      RELAY_SHARD_RENEW_MS: 60_000,
    } as OutboxRelayConfig;
    this.connection = new SequencingConnection(config.DATABASE_URL);
    this.leases = new ShardLeases(config, ds, new SchedulerRegistry(), new RelayMetrics(new Registry()));
  }

  /** Takes the shards; with `shared`, assignPositions on the same database sequences through this one. */
  async start(shared = false): Promise<void> {
    await this.leases.maintain();
    if (shared) running.set(this.ds, this);
  }

  /** Positions everything committed and unpositioned; returns how many events it positioned. */
  sequenceAll(): Promise<number> {
    const pass = this.queue.then(() => this.pass());
    this.queue = pass.catch(() => undefined);
    return pass;
  }

  private async pass(): Promise<number> {
    const db = await this.connection.get();
    const leases = this.leases.active();
    const work = await this.outbox.hasWork(
      db,
      leases.map((l) => ({ shard: l.shard, publishedUpTo: 0 })),
    );
    let total = 0;
    for (const lease of leases.filter((l) => work.some((w) => w.shard === l.shard && w.unpositioned))) {
      for (;;) {
        const n = await this.outbox.sequence(db, lease, BATCH, () => undefined);
        total += n;
        if (n < BATCH) break;
      }
    }
    return total;
  }

  /** Hands the shards back and closes its connection. */
  async stop(): Promise<void> {
    if (running.get(this.ds) === this) running.delete(this.ds);
    await this.queue;
    await this.leases.stop();
    await this.connection.drop();
  }
}

/**
 * Positions every committed, unpositioned event; returns how many. Through the running TestPublisher's
 * sequencer when there is one (it holds the shards), else with a one-shot TestSequencer.
 */
export async function assignPositions(ds: DataSource): Promise<number> {
  const shared = running.get(ds);
  if (shared) return shared.sequenceAll();
  const sequencer = new TestSequencer(ds);
  await sequencer.start();
  try {
    return await sequencer.sequenceAll();
  } finally {
    await sequencer.stop();
  }
}
