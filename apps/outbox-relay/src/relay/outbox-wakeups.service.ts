import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { OUTBOX_CHANNEL } from '@tidings/db';
import { keepConnected } from '@tidings/kafka';
import { APP_CONFIG, WakeUp } from '@tidings/runtime';
import { Client } from 'pg';
import type { OutboxRelayConfig } from '../outbox-relay.config';

/**
 * Wakes the idle relay when a writer commits events: every `transaction()` that appended one notifies
 * OUTBOX_CHANNEL after its commit (libs/db), and this service LISTENs on its own connection. The worker sleeps
 * between idle probes on `sleep(RELAY_IDLE_POLL_MS)`, which a notification (or shutdown) cuts short, so a lone
 * event is picked up within a round trip instead of a poll interval, and an idle relay costs ten probes a
 * second instead of two hundred. Notifications are only hints: the poll interval bounds the wait when one is
 * lost, and while the listening connection is down (it reconnects with a capped backoff) the relay polls.
 */
@Injectable()
export class OutboxWakeups implements OnApplicationBootstrap {
  private readonly logger = new Logger(OutboxWakeups.name);
  private readonly wakeUp = new WakeUp();
  private readonly stopping = new AbortController();
  private client?: Client;

  constructor(@Inject(APP_CONFIG) private readonly config: OutboxRelayConfig) {}

  /** Resolves after `ms`, or at once when events were committed since the last sleep began. */
  sleep(ms: number): Promise<void> {
    return this.wakeUp.sleep(ms);
  }

  /** Ends the current sleep (shutdown). */
  poke(): void {
    this.wakeUp.poke();
  }

  /** Listening now: idle sleeps end on commits (tests and diagnostics). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  onApplicationBootstrap(): void {
    void keepConnected({
      what: `Postgres LISTEN ${OUTBOX_CHANNEL}`,
      signal: this.stopping.signal,
      log: (level, message, fields) => {
        const line = `${message} ${JSON.stringify(fields ?? {})}`;
        if (level === 'info') this.logger.log(line);
        else this.logger[level](line);
      },
      session: (connected) => this.listen(connected),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.client?.end().catch(() => undefined);
  }

  /** One listening session: resolves when the connection ends, rejects when it fails. */
  private async listen(connected: () => void): Promise<void> {
    const client = new Client({
      connectionString: this.config.DATABASE_URL,
      application_name: 'tidings-relay-listener',
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      connectionTimeoutMillis: 5_000,
    });
    const ended = new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.on('end', resolve);
    });
    client.on('notification', () => this.wakeUp.poke());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopping.signal.aborted) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    connected();
    // Commits made while it was not listening: probe once now rather than after a poll interval.
    this.wakeUp.poke();
    try {
      await ended;
    } finally {
      this.client = undefined;
    }
  }
}
