import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  keepConnected,
  MessageTooLargeError,
  SharedConnection,
  type KafkaClient,
  type Producer,
} from '@tidings/kafka';
import { APP_CONFIG, KAFKA_CLIENT, secondsSinceCommit } from '@tidings/runtime';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { FaultPoint, OutboxRelayConfig } from '../outbox-relay.config';
import { LeaseLostError, ShardLeases, type ShardLease } from './shard-leases.service';
import { OutboxWakeups } from './outbox-wakeups.service';
import { OutboxService, type ParkedEvent, type PendingEvent } from './outbox.service';
import { RelayMetrics } from './relay-metrics.service';

/*
 * OUTBOX RELAY LOOP — the sequencer and publisher (DESIGN.md §2, invariants 2–5). The stages in full and why
 * each guarantee holds: docs/architecture.md, "Relay: the loop and its guarantees" and "Shards".
 *
 * Tenants map to sequencing shards; a relay serves the shards whose lease it holds (ShardLeases), and any
 * number of relays share them. A round visits every held shard that has work, round-robin (the first one
 * rotates), one batch each, so a burst in one shard costs every other shard at most one batch of waiting.
 * A shard's batch runs two lanes: SEQUENCE gives committed, unpositioned outbox rows of the shard their
 * tenant's next dense positions in id order (and the shard's publish order, outbox.seq) and commits, on the
 * sequencing connection, fenced by the lease's token; PUBLISH loads the shard's positioned-but-unpublished
 * rows in seq order from the pool, produces them (idempotent, acks=all, key = resourceId) after re-checking
 * the lease, and marks them published or parked.
 *
 * Guarantees: only committed events are published; each tenant's positions are dense, unique and monotonic; a
 * resource's events keep their order (a resource is one tenant's, so one shard's); at-least-once into Kafka, a
 * duplicate carrying the same eventId (the dedupe key) and position; a parked event keeps its position.
 * Without a producer, rounds only sequence.
 *
 * Shutdown, three steps: stop taking work (no new round starts), finish the in-flight round (bounded by
 * SHUTDOWN_GRACE_MS; an unfinished publish is simply redone by the shard's next holder), hand the shards back
 * and release the producer.
 */
@Injectable()
export class RelayWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly producer: SharedConnection<Producer>;
  /** Ends the connector's wait when the producer is dropped, so it connects a new one. */
  private producerDropped?: () => void;
  private readonly stopConnecting = new AbortController();
  /** What this relay knows of each shard it holds, from the lease that granted it. */
  private readonly shards = new Map<number, ShardState>();
  /** Rotates the first shard of a round. */
  private turn = 0;
  private readonly faultHits = new Map<FaultPoint, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: OutboxRelayConfig,
    @Inject(KAFKA_CLIENT) private readonly kafka: KafkaClient,
    private readonly ds: DataSource,
    private readonly leases: ShardLeases,
    private readonly outbox: OutboxService,
    private readonly metrics: RelayMetrics,
    private readonly wakeups: OutboxWakeups,
  ) {
    this.producer = new SharedConnection(
      () => this.kafka.createProducer(),
      (p) => p.disconnect(),
    );
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.connectProducer();
    this.loop = this.run();
  }

  /** A producer is connected: published events can go out (readiness). */
  get connected(): boolean {
    return this.producer.connected !== undefined;
  }

  /**
   * Keeps a producer connected in the background, from boot (the broker may be down) and after every drop,
   * retrying with a capped backoff. Cycles publish only while one is connected (a split after a too-large
   * refusal replaces it at once, through getProducer), so sequencing goes on while Kafka is away.
   */
  private connectProducer(): void {
    const signal = this.stopConnecting.signal;
    void keepConnected({
      what: 'Kafka producer',
      signal,
      log: (level, message, fields) => {
        const line = `${message} ${JSON.stringify(fields ?? {})}`;
        if (level === 'info') this.logger.log(line);
        else this.logger[level](line);
      },
      session: async (connected) => {
        while (!signal.aborted) {
          await this.getProducer();
          connected();
          await new Promise<void>((resolve) => (this.producerDropped = resolve));
        }
      },
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    // 1. Stop taking work.
    this.running = false;
    this.wake?.();
    this.wakeups.poke();
    // 2. Finish the in-flight round, within the grace period.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.config.SHUTDOWN_GRACE_MS);
    });
    const outcome = await Promise.race([this.loop, grace]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn('shutdown grace elapsed with a cycle in flight; its events will be republished');
    }
    // 3. Hand the shards back (the others take them at their next renewal) and release the producer.
    this.stopConnecting.abort();
    await this.leases.stop();
    await this.dropProducer();
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      try {
        // Between rounds: nothing of a shard marked over the fair share is in flight.
        await this.leases.releaseMarked();
        const leases = this.leases.active();
        this.track(leases);
        if (leases.length === 0) {
          // No query here: leases are taken by ShardLeases' own renewals; look again shortly.
          await this.pause(Math.min(this.config.RELAY_SHARD_RENEW_MS, 50));
          continue;
        }
        const done = await this.round([...this.shards.values()]);
        backoff = 0;
        // Idle: until a writer's commit notifies (OutboxWakeups), or the next probe.
        if (done === 0) await this.wakeups.sleep(this.config.RELAY_IDLE_POLL_MS);
      } catch (error) {
        const stage = error instanceof StageError ? error.stage : 'shards';
        const cause = error instanceof StageError ? error.cause : error;
        if (cause instanceof LeaseLostError) {
          // Another relay holds the shard now: not a failure of this relay, and nothing to wait for.
          this.leases.lose(cause.shard, 'the sequencing transaction found another token');
          continue;
        }
        backoff = Math.min(Math.max(backoff * 2, 100), this.config.RELAY_ERROR_BACKOFF_MAX_MS);
        this.metrics.failures.inc({ stage });
        this.logger.warn(
          `relay cycle failed at ${stage}; retrying in ${backoff} ms: ${cause instanceof Error ? cause.message : String(cause)}`,
        );
        if (stage === 'produce') await this.dropProducer();
        if (stage === 'probe' || stage === 'sequence') await this.leases.dropConnection();
        await this.pause(backoff);
      }
    }
  }

  /** Keeps one state per held lease; a shard (re)acquired under a new token starts afresh. */
  private track(leases: ShardLease[]): void {
    const live = new Set(leases.map((l) => l.shard));
    for (const shard of this.shards.keys()) if (!live.has(shard)) this.shards.delete(shard);
    for (const lease of leases) {
      if (this.shards.get(lease.shard)?.lease.token === lease.token) continue;
      this.shards.set(lease.shard, { lease, publishedUpTo: 0, parkedRetryAt: 0, held: new Map() });
    }
  }

  /**
   * One round over the held shards: one probe for all of them, then one batch for each that has work,
   * round-robin. Returns how many events moved (0 = idle).
   */
  private async round(shards: ShardState[]): Promise<number> {
    // Decided once per round: the producer may connect mid-round, and a shard must not publish before its
    // held resources are loaded.
    const publishing = this.connected;
    if (publishing) {
      for (const state of shards) {
        if (Date.now() < state.parkedRetryAt || !this.leases.valid(state.lease)) continue;
        // Loaded before any batch of a lease that publishes: a batch must know which resources are held.
        state.held = await this.stage('load', () => this.outbox.parkedResources(this.ds, state.lease.shard));
        state.parkedRetryAt = Date.now() + this.config.RELAY_PARKED_RETRY_MS;
        await this.retryParked(state);
      }
    }
    const db = await this.stage('probe', () => this.leases.connection());
    const work = await this.stage('probe', () =>
      this.outbox.hasWork(
        db,
        shards.map((s) => ({ shard: s.lease.shard, publishedUpTo: s.publishedUpTo })),
      ),
    );
    const busy = work.filter((w) => w.unpositioned || (w.unpublished && publishing));
    let done = 0;
    const first = busy.length === 0 ? 0 : this.turn++ % busy.length;
    for (const w of [...busy.slice(first), ...busy.slice(0, first)]) {
      const state = this.shards.get(w.shard);
      if (!state || !this.leases.valid(state.lease) || !this.running) continue;
      done += await this.cycle(state, db, w.unpositioned, w.unpublished && publishing);
    }
    return done;
  }

  /**
   * One batch of one shard. The two lanes run concurrently: SEQUENCE positions the shard's next batch on the
   * sequencing connection while PUBLISH loads the shard's lowest positioned-but-unpublished rows, produces
   * and marks them. Rows the sequencer commits mid-round are picked by this round's load or by the next one;
   * either way each is published once, after every lower seq of its shard, because a shard's batches publish
   * one after the other. Database work thus overlaps the producer's CPU-bound encoding. Without a producer
   * (the broker is away) only sequencing runs: positioned events reach the log, where the API's event log and
   * SSE replay read them, and they are published once the connector reconnects.
   */
  private async cycle(state: ShardState, db: Client, sequence: boolean, publish: boolean): Promise<number> {
    const endBatch = this.metrics.batchDuration.startTimer();
    const lanes = await Promise.allSettled([
      sequence ? this.sequenceBatch(state, db) : Promise.resolve(0),
      publish ? this.publishBatch(state) : Promise.resolve(0),
    ]);
    for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
    const [sequenced, published] = lanes.map((lane) => (lane.status === 'fulfilled' ? lane.value : 0));
    // An idle shard that just sequenced a lone event publishes it in the same round: lowest latency.
    const followUp = sequenced > 0 && published === 0 && this.connected ? await this.publishBatch(state) : 0;
    endBatch();
    return sequenced + published + followUp;
  }

  private async sequenceBatch(state: ShardState, db: Client): Promise<number> {
    const sequenced = await this.stage('sequence', () =>
      this.outbox.sequence(db, state.lease, this.config.RELAY_BATCH_SIZE, (n) => {
        if (n > 0) this.fault('before-position-commit');
      }),
    );
    if (sequenced > 0) {
      this.metrics.sequenced.inc(sequenced);
      this.fault('after-position-commit');
    }
    return sequenced;
  }

  private async publishBatch(state: ShardState): Promise<number> {
    const pending = await this.stage('load', () =>
      this.outbox.loadUnpublished(
        this.ds,
        state.lease.shard,
        this.config.RELAY_BATCH_SIZE,
        this.config.KAFKA_TOPIC_PREFIX,
        state.publishedUpTo,
      ),
    );
    if (pending.length === 0) return 0;
    // A copy: what this batch parks counts only once it is written.
    const held = new Map(state.held);
    let outcome: { published: PendingEvent[]; parked: Parked[] };
    try {
      outcome = await this.stage('produce', () => this.produce(state.lease, pending, held));
    } catch (error) {
      for (const e of pending) e.span.end(error);
      throw error;
    }
    const { published, parked } = outcome;
    endPublishSpans(pending, parked);
    this.fault('after-produce');
    await this.stage('mark', async () => {
      if (parked.length > 0) await this.outbox.park(this.ds, parked);
      if (published.length > 0)
        await this.outbox.markPublished(
          this.ds,
          published.map((p) => p.outboxId),
        );
    });
    state.held = held;
    this.metrics.published.inc(published.length);
    for (const p of parked) this.metrics.parked.inc({ cause: p.cause });
    // Published or parked, every seq of the batch is settled: the hint's invariant holds.
    state.publishedUpTo = Math.max(state.publishedUpTo, pending[pending.length - 1].seq);
    return pending.length;
  }

  /**
   * Sends `events` in seq order (each tenant's position order), in the byte-bounded runs of Producer.pack. A run the broker refuses as
   * too large (its limit fell, or our estimate was short) is split in halves, each sent again; a single
   * event it refuses is parked. Per-resource order (invariant 4) forbids a resource's later event to
   * overtake a parked one, so every event of a resource in `held` (parked earlier, or in this batch) is
   * parked behind it, and they go out together, in order, when the retry gets the first one through.
   */
  private async produce(
    lease: ShardLease,
    events: PendingEvent[],
    held: Map<string, number>,
  ): Promise<{ published: PendingEvent[]; parked: Parked[] }> {
    const outcome = { published: [] as PendingEvent[], parked: [] as Parked[] };
    const runs = await (await this.getProducer()).pack(events.map((e) => e.message));
    let next = 0;
    for (const run of runs)
      await this.sendRun(lease, events.slice(next, (next += run.length)), held, outcome);
    return outcome;
  }

  private async sendRun(
    lease: ShardLease,
    run: PendingEvent[],
    held: Map<string, number>,
    outcome: { published: PendingEvent[]; parked: Parked[] },
  ): Promise<void> {
    const ready: PendingEvent[] = [];
    for (const e of run) {
      const blocker = held.get(e.resource);
      if (blocker === undefined) ready.push(e);
      else
        outcome.parked.push({
          outboxId: e.outboxId,
          cause: 'held',
          reason: `held behind the parked event at position ${blocker} of ${e.resource}`,
        });
    }
    if (ready.length === 0) return;
    const producer = await this.getProducer();
    // A relay whose lease ended or was taken since the round began must not publish.
    this.leases.assertValid(lease);
    try {
      await producer.send(ready.map((e) => e.message));
      const acked = Date.now();
      for (const e of ready) this.metrics.commitToKafka.observe(secondsSinceCommit(e.occurredAt, acked));
      outcome.published.push(...ready);
      return;
    } catch (error) {
      if (!(error instanceof MessageTooLargeError)) throw error;
      this.metrics.refusedTooLarge.inc();
      // Other partitions of the request may be written: the producer's sequence numbers are now wrong.
      await this.dropProducer();
      if (ready.length > 1) {
        const half = Math.ceil(ready.length / 2);
        await this.sendRun(lease, ready.slice(0, half), held, outcome);
        await this.sendRun(lease, ready.slice(half), held, outcome);
        return;
      }
      const [e] = ready;
      const reason = `refused by Kafka as too large (${Buffer.byteLength(e.message.value)} bytes of JSON): ${error.message}`;
      this.logger.warn({ position: e.position, resource: e.resource, reason }, 'event parked');
      outcome.parked.push({ outboxId: e.outboxId, cause: 'too_large', reason });
      held.set(e.resource, e.position);
    }
  }

  /**
   * Parked events, oldest first (seq order), each sent alone: what the broker takes now (its limit was raised)
   * is marked published; a refused one stays parked, and so do the later events of its resource. Runs on
   * taking a shard and every RELAY_PARKED_RETRY_MS; near-free when nothing is parked.
   */
  private async retryParked(state: ShardState): Promise<void> {
    const parked = await this.stage('load', () =>
      this.outbox.loadParked(
        this.ds,
        state.lease.shard,
        this.config.RELAY_BATCH_SIZE,
        this.config.KAFKA_TOPIC_PREFIX,
      ),
    );
    const stillRefused = new Set<string>();
    let republished = 0;
    for (const e of parked) {
      if (stillRefused.has(e.resource)) {
        e.span.end('held behind a parked event that is still refused');
        continue;
      }
      const sent = await this.stage('produce', async () => {
        const producer = await this.getProducer();
        this.leases.assertValid(state.lease);
        try {
          await producer.send([e.message]);
          e.span.end();
          return true;
        } catch (error) {
          e.span.end(error);
          if (!(error instanceof MessageTooLargeError)) throw error;
          this.metrics.refusedTooLarge.inc();
          await this.dropProducer();
          return false;
        }
      });
      if (!sent) {
        stillRefused.add(e.resource);
        continue;
      }
      await this.stage('mark', () => this.outbox.markPublished(this.ds, [e.outboxId]));
      republished++;
    }
    if (parked.length > 0)
      this.logger.log(
        `parked events retried: ${republished} published, ${parked.length - republished} still parked`,
      );
    this.metrics.published.inc(republished);
    state.held = await this.stage('load', () => this.outbox.parkedResources(this.ds, state.lease.shard));
  }

  /** Runs one stage, timing it and tagging a failure with the stage's name. */
  private async stage<T>(name: string, work: () => Promise<T>): Promise<T> {
    const end = this.metrics.stageDuration.startTimer({ stage: name });
    try {
      return await work();
    } catch (error) {
      throw new StageError(name, error);
    } finally {
      end();
    }
  }

  /** The producer, or the connection attempt in flight. */
  private getProducer(): Promise<Producer> {
    return this.producer.get();
  }

  /** After a failed send the idempotent producer's state is suspect: start the next attempt with a new one. */
  private async dropProducer(): Promise<void> {
    this.producerDropped?.();
    await this.producer.drop();
  }

  /** Interruptible wait, so shutdown does not sit out a backoff. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Crash-test hook (RELAY_FAULT_INJECTION, refused at boot unless NODE_ENV=test). */
  private fault(point: FaultPoint): void {
    const injection = this.config.RELAY_FAULT_INJECTION;
    if (injection?.point !== point) return;
    const hits = (this.faultHits.get(point) ?? 0) + 1;
    this.faultHits.set(point, hits);
    if (hits !== injection.nth) return;
    this.logger.warn(`fault injection: SIGKILL at ${point} (hit ${hits})`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/** Ends each publish span with what happened to its event: sent, or parked with the reason. */
function endPublishSpans(events: PendingEvent[], parked: Parked[]): void {
  const reasons = new Map(parked.map((p) => [p.outboxId, p.reason]));
  for (const e of events) e.span.end(reasons.get(e.outboxId));
}

/** A held shard as the worker sees it, for the lease that granted it. */
interface ShardState {
  lease: ShardLease;
  /**
   * Every seq of the shard up to this one is published or parked. A shard publishes in seq order and settles
   * exactly its lowest unpublished rows (an uncommitted sequencing batch always holds higher seqs than any
   * visible one), and a settled row never becomes unsettled: so this stays true whoever holds the shard.
   * Only a hint for cheaper queries; 0 for a lease just taken.
   */
  publishedUpTo: number;
  /** When parked events are next retried; 0 (a lease just taken) = at once. */
  parkedRetryAt: number;
  /**
   * Resources with a parked event → its lowest parked position. Only the shard's holder parks; a new holder
   * loads this before its first batch and again after each retry of parked events, and keeps it current in
   * between, so a batch costs no query for it.
   */
  held: Map<string, number>;
}

interface Parked extends ParkedEvent {
  cause: 'too_large' | 'held';
}

class StageError extends Error {
  constructor(
    readonly stage: string,
    override readonly cause: unknown,
  ) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
