import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@tidings/runtime';
import { Client } from 'pg';
import type { OutboxRelayConfig } from '../outbox-relay.config';
import { RelayMetrics } from './relay-metrics.service';

// Session advisory lock key shared by every relay of one database ("tidi" in ASCII). Advisory locks are
// scoped to the database, so relays of different databases never contend.
export const RELAY_LOCK_KEY = 0x74696469;

/**
 * Leadership = holding a Postgres session advisory lock on a dedicated connection (never a pooled one: a pool
 * would hand the session, and the lock, to whoever borrows it next). Postgres releases the lock the moment
 * that session ends, so at most one relay per database holds it. The same connection also runs every
 * sequencing and publishing query of the leader: if the session is gone, the leader's next query fails
 * instead of doing work that another leader may already be doing.
 */
@Injectable()
export class LeadershipService {
  private readonly logger = new Logger('RelayLeadership');
  private client: Client | null = null;
  private leader = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: OutboxRelayConfig,
    private readonly metrics: RelayMetrics,
  ) {}

  get isLeader(): boolean {
    return this.leader && this.client !== null;
  }

  /** The lock connection; only valid while `isLeader`. */
  get connection(): Client {
    if (!this.isLeader || !this.client) throw new LeadershipLostError();
    return this.client;
  }

  assertLeader(): void {
    if (!this.isLeader) throw new LeadershipLostError();
  }

  /** One attempt to become leader; cheap when the lock is taken (one round trip on a kept connection). */
  async tryAcquire(): Promise<boolean> {
    if (this.isLeader) return true;
    const client = this.client ?? (await this.connect());
    try {
      const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        RELAY_LOCK_KEY,
      ]);
      if (result.rows[0]?.ok && this.client === client) {
        this.leader = true;
        this.metrics.leader.set(1);
        this.logger.log(`relay.leader.acquired: this relay (pid ${process.pid}) is now the leader`);
      }
    } catch (error) {
      await this.release(`lock attempt failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    return this.isLeader;
  }

  /** Drops the connection (and with it the lock, server-side). Used on errors and at shutdown. */
  async release(reason: string, planned = false): Promise<void> {
    const client = this.client;
    this.lose(reason, planned);
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.DATABASE_URL,
      application_name: 'tidings-relay-lock',
      // Detect a silently dead peer (cable pulled, VM paused) instead of believing we still lead.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      connectionTimeoutMillis: 5_000,
    });
    // A dead session means a released lock: stop leading at once; the loop reconnects and competes again.
    client.on('error', (error) => {
      if (this.client === client) this.lose(`lock connection error: ${error.message}`);
    });
    client.on('end', () => {
      if (this.client === client) this.lose('lock connection closed');
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private lose(reason: string, planned = false): void {
    const wasLeader = this.leader;
    this.client = null;
    this.leader = false;
    this.metrics.leader.set(0);
    if (wasLeader && planned) {
      this.logger.log(
        `relay.leader.released: this relay (pid ${process.pid}) handed leadership back: ${reason}`,
      );
    } else if (wasLeader) {
      this.logger.warn(
        `relay.leader.lost: this relay (pid ${process.pid}) is no longer the leader: ${reason}`,
      );
    }
  }
}

export class LeadershipLostError extends Error {
  constructor() {
    super('this relay is not the leader (its lock connection is gone)');
  }
}
