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
import { DataSource } from 'typeorm';
import type { FaultPoint, OutboxRelayConfig } from '../outbox-relay.config';
import { LeaseLostError, ShardLeases, type ShardLease } from './shard-leases.service';
import { OutboxWakeups } from './outbox-wakeups.service';
import { OutboxService, SequencingConnection, type ParkedEvent, type PendingEvent } from './outbox.service';
import { RelayMetrics } from './relay-metrics.service';

/** The first wait after a failure, doubling from there: no busy loop, quick recovery. */
const FIRST_BACKOFF_MS = 100;

/*
 * OUTBOX RELAY LOOP — the sequencer and publisher (DESIGN.md §2, invariants 2–5). The stages in full and why
 * each guarantee holds: docs/architecture.md, "Relay: the loop and its guarantees" and "Shards".
 *
 * Tenants map to sequencing shards; a relay serves the shards whose lease it holds (ShardLeases), and any
 * number of relays share them. RELAY_LANES lanes run batches of different shards at once, each with its own
 * sequencing connection and producer; a shard is in at most one lane at a time, and a free lane takes the
 * next shard with work round-robin, so a shard with a few events never waits for another shard's batch.
 * A shard's batch overlaps two stages: SEQUENCE gives committed, unpositioned outbox rows of the shard their
 * tenant's next dense positions in id order (and the shard's publish order, outbox.seq) and commits, fenced
 * by the lease's token; PUBLISH loads the shard's positioned-but-unpublished rows in seq order from the pool,
 * produces them (idempotent, acks=all, key = resourceId) after re-checking the lease, and marks them.
 *
 * Guarantees: only committed events are published; each tenant's positions are dense, unique and monotonic; a
 * resource's events keep their order (a resource is one tenant's, so one shard's, whose batches publish one
 * after the other); at-least-once into Kafka, a duplicate carrying the same eventId (the dedupe key) and
 * position; a parked event keeps its position. Without a producer, a lane only sequences.
 *
 * Shutdown, three steps: stop taking work (no shard is dispatched any more), finish the lanes' batches
 * (bounded by SHUTDOWN_GRACE_MS; an unfinished publish is simply redone by the shard's next holder), hand the
 * shards back and release the producers and connections.
 */
@Injectable()
export class RelayWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  private running = false;
  private loop?: Promise<void>;
  private readonly lanes: Lane[];
  /** Where the coordinator probes (the lanes sequence on their own connections). */
  private readonly probeConnection: SequencingConnection;
  private readonly stopConnecting = new AbortController();
  /** What this relay knows of each shard it holds, from the lease that granted it. */
  private readonly shards = new Map<number, ShardState>();
  /** Round-robin: the next dispatch starts at the first shard with work at or after this one. */
  private nextShard = 0;
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
    this.probeConnection = new SequencingConnection(config.DATABASE_URL);
    this.lanes = Array.from({ length: config.RELAY_LANES }, (_, index) => ({
      index,
      db: new SequencingConnection(config.DATABASE_URL),
      producer: new SharedConnection(
        () => this.kafka.createProducer(),
        (p) => p.disconnect(),
      ),
    }));
  }

  onApplicationBootstrap(): void {
    this.running = true;
    for (const lane of this.lanes) this.connectProducer(lane);
    this.loop = this.run();
  }

  /** Every lane has a producer connected: published events can go out (readiness). */
  get connected(): boolean {
    return this.lanes.every((lane) => lane.producer.connected !== undefined);
  }

  /**
   * Keeps the lane's producer connected in the background, from boot (the broker may be down) and after every
   * drop, retrying with a capped backoff. A lane publishes only while its producer is connected (after a
   * too-large refusal the split's next send connects a new one at once), so sequencing goes on while Kafka is
   * away.
   *
   * One idempotent producer per lane, not one shared: kafkajs numbers each partition's batches per producer
   * and, when a produce request fails, hands its sequence numbers back for the retry; a request of another
   * lane sent in between would take them, and the broker would drop it as a duplicate of the failed request
   * if that one was in fact written. A lane sends one request at a time, so its producer never races itself.
   */
  private connectProducer(lane: Lane): void {
    const signal = this.stopConnecting.signal;
    void keepConnected({
      what: `Kafka producer of relay lane ${lane.index}`,
      signal,
      log: (level, message, fields) => {
        const line = `${message} ${JSON.stringify(fields ?? {})}`;
        if (level === 'info') this.logger.log(line);
        else this.logger[level](line);
      },
      session: async (connected) => {
        while (!signal.aborted) {
          await lane.producer.get();
          connected();
          await new Promise<void>((resolve) => (lane.producerDropped = resolve));
        }
      },
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    // 1. Stop taking work.
    this.running = false;
    this.wakeups.poke();
    // 2. Finish the lanes' batches, within the grace period.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.config.SHUTDOWN_GRACE_MS);
    });
    const finished = (async () => {
      await this.loop;
      await Promise.all(this.lanes.flatMap((lane) => (lane.busy ? [lane.busy] : [])));
    })();
    const outcome = await Promise.race([finished, grace]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn('shutdown grace elapsed with batches in flight; their events will be republished');
    }
    // 3. Hand the shards back (the others take them at their next renewal), release producers and connections.
    this.stopConnecting.abort();
    await this.leases.stop();
    await Promise.all(
      this.lanes.map(async (lane) => {
        await this.dropProducer(lane);
        await lane.db.drop();
      }),
    );
    await this.probeConnection.drop();
  }

  /**
   * The coordinator: hands shards with work to free lanes, round-robin, and waits for a lane to finish or for
   * the next poll. Probes only the shards no lane is serving, in one statement.
   */
  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      try {
        const busy = this.busyShards();
        // Only shards that no lane is serving: nothing of theirs is in flight.
        await this.leases.releaseMarked(busy);
        this.track(this.leases.active());
        if (this.shards.size === 0 && busy.size === 0) {
          // No query here: leases are taken by ShardLeases' own renewals; look again shortly.
          await this.wakeups.sleep(Math.min(this.config.RELAY_SHARD_RENEW_MS, 50));
          continue;
        }
        if (this.lanes.some((lane) => !lane.busy)) await this.dispatch(busy);
        backoff = 0;
        // Until a lane finishes or a writer's commit notifies (OutboxWakeups); with a lane free, at most the idle
        // poll; with every lane busy, the renewal period only bounds the wait for shards to hand back.
        const free = this.lanes.some((lane) => !lane.busy);
        await this.wakeups.sleep(free ? this.config.RELAY_IDLE_POLL_MS : this.config.RELAY_SHARD_RENEW_MS);
      } catch (error) {
        const stage = error instanceof StageError ? error.stage : 'shards';
        const cause = error instanceof StageError ? error.cause : error;
        backoff = Math.min(Math.max(backoff * 2, FIRST_BACKOFF_MS), this.config.RELAY_ERROR_BACKOFF_MAX_MS);
        this.metrics.failures.inc({ stage });
        this.logger.warn(
          `relay ${stage} failed; retrying in ${backoff} ms: ${cause instanceof Error ? cause.message : String(cause)}`,
        );
        if (stage === 'probe') await this.probeConnection.drop();
        await this.wakeups.sleep(backoff);
      }
    }
  }

  /** Shards a lane is working on, by number (a lease re-taken under a new token waits for the old batch). */
  private busyShards(): Set<number> {
    return new Set(this.lanes.flatMap((lane) => (lane.busy ? [lane.shard!] : [])));
  }

  /** Keeps one state per held lease; a shard (re)acquired under a new token starts afresh. */
  private track(leases: ShardLease[]): void {
    const live = new Set(leases.map((l) => l.shard));
    for (const shard of this.shards.keys()) if (!live.has(shard)) this.shards.delete(shard);
    for (const lease of leases) {
      if (this.shards.get(lease.shard)?.lease.token === lease.token) continue;
      this.shards.set(lease.shard, {
        lease,
        publishedUpTo: 0,
        parkedRetryAt: 0,
        held: new Map(),
        notBefore: 0,
        backoff: 0,
      });
    }
  }

  /**
   * One probe of the held shards no lane is serving, then each shard with work goes to a free lane, in shard
   * order starting at `nextShard` (round-robin: a shard just served goes behind every other one with work).
   * A shard whose parked events are due counts as having work.
   */
  private async dispatch(busy: Set<number>): Promise<void> {
    const now = Date.now();
    const candidates = [...this.shards.values()].filter(
      (s) => !busy.has(s.lease.shard) && now >= s.notBefore && this.leases.valid(s.lease),
    );
    if (candidates.length === 0) return;
    const work = await this.stage('probe', async () =>
      this.outbox.hasWork(
        await this.probeConnection.get(),
        candidates.map((s) => ({ shard: s.lease.shard, publishedUpTo: s.publishedUpTo })),
      ),
    );
    const byShard = new Map(work.map((w) => [w.shard, w]));
    const ordered = candidates
      .map((s) => s.lease.shard)
      .sort((a, b) => a - b)
      .sort((a, b) => Number(a < this.nextShard) - Number(b < this.nextShard));
    for (const shard of ordered) {
      const lane = this.lanes.find((l) => !l.busy);
      if (!lane || !this.running) return;
      const state = this.shards.get(shard)!;
      const w = byShard.get(shard);
      const publishing = lane.producer.connected !== undefined;
      const parkedDue = publishing && now >= state.parkedRetryAt;
      const sequence = w?.unpositioned ?? false;
      const publish = (w?.unpublished ?? false) && publishing;
      if (!sequence && !publish && !parkedDue) continue;
      this.nextShard = shard + 1;
      lane.shard = shard;
      lane.busy = this.serve(lane, state, { sequence, publish, publishing }).finally(() => {
        lane.busy = undefined;
        lane.shard = undefined;
        this.wakeups.poke();
      });
    }
  }

  /**
   * One lane's turn at one shard: its due parked events, then one batch. A failure backs the shard off
   * (doubling up to RELAY_ERROR_BACKOFF_MAX_MS) and never loses its place: positions are durable.
   */
  private async serve(
    lane: Lane,
    state: ShardState,
    work: { sequence: boolean; publish: boolean; publishing: boolean },
  ): Promise<void> {
    try {
      if (work.publishing && Date.now() >= state.parkedRetryAt) {
        // Loaded before any batch of a lease that publishes: a batch must know which resources are held.
        state.held = await this.stage('load', () => this.outbox.parkedResources(this.ds, state.lease.shard));
        state.parkedRetryAt = Date.now() + this.config.RELAY_PARKED_RETRY_MS;
        await this.retryParked(lane, state);
      }
      const batch = work.sequence || work.publish;
      const moved = batch ? await this.cycle(lane, state, work.sequence, work.publish, work.publishing) : 0;
      state.backoff = 0;
      // A probe that found work the batch did not: held off a moment rather than probed again at once in a loop.
      state.notBefore = batch && moved === 0 ? Date.now() + FIRST_BACKOFF_MS : 0;
    } catch (error) {
      const stage = error instanceof StageError ? error.stage : 'shards';
      const cause = error instanceof StageError ? error.cause : error;
      if (cause instanceof LeaseLostError) {
        // Another relay holds the shard now: not a failure of this relay, and nothing to wait for.
        this.leases.lose(cause.shard, 'the sequencing transaction found another token');
        return;
      }
      state.backoff = Math.min(
        Math.max(state.backoff * 2, FIRST_BACKOFF_MS),
        this.config.RELAY_ERROR_BACKOFF_MAX_MS,
      );
      state.notBefore = Date.now() + state.backoff;
      this.metrics.failures.inc({ stage });
      this.logger.warn(
        `relay batch of shard ${state.lease.shard} failed at ${stage}; retrying in ${state.backoff} ms: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
      if (stage === 'produce') await this.dropProducer(lane);
      if (stage === 'sequence') await lane.db.drop();
    }
  }

  /**
   * One batch of one shard, in its two overlapping stages: SEQUENCE positions the shard's next batch on the
   * lane's connection while PUBLISH loads the shard's lowest positioned-but-unpublished rows, produces and marks
   * them. Rows the sequencer commits meanwhile are picked by this batch's load or by the next one; either way
   * each is published once, after every lower seq of its shard, because a shard's batches publish one after
   * the other (one lane at a time, each awaiting its sends). Database work thus overlaps the producer's
   * CPU-bound encoding. Without a producer (the broker is away) only sequencing runs: positioned events reach
   * the log, where the API's event log and SSE replay read them, and they are published once it reconnects.
   */
  private async cycle(
    lane: Lane,
    state: ShardState,
    sequence: boolean,
    publish: boolean,
    publishing: boolean,
  ): Promise<number> {
    const endBatch = this.metrics.batchDuration.startTimer();
    const stages = await Promise.allSettled([
      sequence ? this.sequenceBatch(lane, state) : Promise.resolve(0),
      publish ? this.publishBatch(lane, state) : Promise.resolve(0),
    ]);
    for (const stage of stages) if (stage.status === 'rejected') throw stage.reason;
    const [sequenced, published] = stages.map((stage) => (stage.status === 'fulfilled' ? stage.value : 0));
    // A shard that just sequenced events with nothing before them publishes them in the same turn: lowest latency.
    const followUp =
      sequenced > 0 && published === 0 && publishing ? await this.publishBatch(lane, state) : 0;
    endBatch();
    return sequenced + published + followUp;
  }

  private async sequenceBatch(lane: Lane, state: ShardState): Promise<number> {
    const sequenced = await this.stage('sequence', async () =>
      this.outbox.sequence(await lane.db.get(), state.lease, this.config.RELAY_BATCH_SIZE, (n) => {
        if (n > 0) this.fault('before-position-commit');
      }),
    );
    if (sequenced > 0) {
      this.metrics.sequenced.inc(sequenced);
      this.fault('after-position-commit');
    }
    return sequenced;
  }

  private async publishBatch(lane: Lane, state: ShardState): Promise<number> {
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
      outcome = await this.stage('produce', () => this.produce(lane, state.lease, pending, held));
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
    lane: Lane,
    lease: ShardLease,
    events: PendingEvent[],
    held: Map<string, number>,
  ): Promise<{ published: PendingEvent[]; parked: Parked[] }> {
    const outcome = { published: [] as PendingEvent[], parked: [] as Parked[] };
    const runs = await (await lane.producer.get()).pack(events.map((e) => e.message));
    let next = 0;
    for (const run of runs)
      await this.sendRun(lane, lease, events.slice(next, (next += run.length)), held, outcome);
    return outcome;
  }

  private async sendRun(
    lane: Lane,
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
    const producer = await lane.producer.get();
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
      await this.dropProducer(lane);
      if (ready.length > 1) {
        const half = Math.ceil(ready.length / 2);
        await this.sendRun(lane, lease, ready.slice(0, half), held, outcome);
        await this.sendRun(lane, lease, ready.slice(half), held, outcome);
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
  private async retryParked(lane: Lane, state: ShardState): Promise<void> {
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
        const producer = await lane.producer.get();
        this.leases.assertValid(state.lease);
        try {
          await producer.send([e.message]);
          e.span.end();
          return true;
        } catch (error) {
          e.span.end(error);
          if (!(error instanceof MessageTooLargeError)) throw error;
          this.metrics.refusedTooLarge.inc();
          await this.dropProducer(lane);
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

  /** After a failed send the idempotent producer's state is suspect: start the next attempt with a new one. */
  private async dropProducer(lane: Lane): Promise<void> {
    lane.producerDropped?.();
    await lane.producer.drop();
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

/** One lane: its own sequencing connection and producer, and the shard it is serving, if any. */
interface Lane {
  index: number;
  db: SequencingConnection;
  producer: SharedConnection<Producer>;
  /** Ends the connector's wait when the producer is dropped, so it connects a new one. */
  producerDropped?: () => void;
  /** The turn in flight; `shard` is the one it serves. */
  busy?: Promise<void>;
  shard?: number;
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
  /** Not dispatched before this time: after a failure (backoff), or after a turn that found nothing. */
  notBefore: number;
  /** The current backoff after consecutive failures; 0 after a success. */
  backoff: number;
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
