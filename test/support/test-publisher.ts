import { envelopeFromLogRow, EventLogEntity } from '@tidings/db';
import { toKafkaMessage } from '@tidings/events';
import type { KafkaClient, Producer } from '@tidings/kafka';
import type { DataSource } from 'typeorm';
import { TestSequencer } from './sequencer';

/**
 * Test-only stand-in for the outbox relay's publishing half, for journeys that need events on Kafka without
 * booting apps/outbox-relay: positions committed events (`TestSequencer`, the relay's own sequencing),
 * publishes the sequenced, unpublished outbox rows in seq order with `toKafkaMessage` (the one key rule), then marks them
 * published. Polls every `intervalMs` until stopped.
 */
export class TestPublisher {
  private running = false;
  private paused = false;
  private loop?: Promise<void>;
  private producer?: Producer;
  private sequencer?: TestSequencer;

  constructor(
    private readonly ds: DataSource,
    private readonly kafka: KafkaClient,
    private readonly topicPrefix: string,
    private readonly intervalMs = 20,
  ) {}

  async start(): Promise<void> {
    this.producer = await this.kafka.createProducer();
    this.sequencer = new TestSequencer(this.ds);
    await this.sequencer.start(true);
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.producer?.disconnect();
    await this.sequencer?.stop();
  }

  /** Holds publishing (positions are still assigned by whoever calls `assignPositions`) until `resume()`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** One round: position, publish, mark. Returns how many events were published. */
  async publishOnce(): Promise<number> {
    await this.sequencer!.sequenceAll();
    const rows = await this.ds
      .getRepository(EventLogEntity)
      .createQueryBuilder('e')
      .innerJoin('outbox', 'o', 'o.event_log_id = e.id')
      .where('o.seq IS NOT NULL AND o.published_at IS NULL')
      .orderBy('o.seq')
      .limit(500)
      .getMany();
    if (rows.length === 0) return 0;
    await this.producer!.send(
      rows.map((row) => toKafkaMessage(envelopeFromLogRow(row), { topicPrefix: this.topicPrefix })),
    );
    await this.ds.query(`UPDATE outbox SET published_at = now() WHERE event_log_id = ANY($1::bigint[])`, [
      rows.map((r) => r.id),
    ]);
    return rows.length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const published = this.paused ? 0 : await this.publishOnce();
      if (published === 0) await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }
}
