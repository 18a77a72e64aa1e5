import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import {
  BATCH_LIMIT,
  DEFAULT_CONSUMER_RETRY,
  deadLetterOf,
  decide,
  handledAsBatch,
  nextBackoff,
} from './consumer-rule';
import type {
  Consumer,
  ConsumerOptions,
  GroupOffset,
  IncomingMessage,
  KafkaClient,
  OutgoingMessage,
  Producer,
} from './kafka.port';
import { MessageTooLargeError, packRuns, recordSizeBound } from './produce-batching';

/**
 * In-memory Kafka for unit tests: same port, same commit rule (`decide`), partitions chosen by key so
 * per-key order holds. Simplification: a consumer group's partitions all go to its first started member.
 */
export class InMemoryKafka implements KafkaClient {
  private readonly topics = new Map<string, IncomingMessage[][]>();
  private readonly committed = new Map<string, number>();
  private readonly activeGroups = new Set<string>();
  private readonly appended = new EventEmitter();
  private down = false;

  /**
   * `maxBatchBytes` plays the broker's `max.message.bytes`: `pack` budgets it and `send` refuses a partition
   * batch above it (raw bytes; the fake does not compress) with `MessageTooLargeError`, writing nothing.
   */
  constructor(
    private readonly defaultPartitions = 3,
    private readonly maxBatchBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.appended.setMaxListeners(0);
  }

  /** Simulates a broker outage: sends and pings fail until `setDown(false)`. */
  setDown(down: boolean): void {
    this.down = down;
  }

  /** @internal */
  get isUp(): boolean {
    return !this.down;
  }

  ensureTopics(topics: string[], partitions: number): Promise<void> {
    for (const t of topics)
      if (!this.topics.has(t))
        this.topics.set(
          t,
          Array.from({ length: partitions }, () => []),
        );
    return Promise.resolve();
  }

  createProducer(): Promise<Producer> {
    return Promise.resolve({
      send: (messages: OutgoingMessage[]) => this.append(messages),
      pack: (messages: OutgoingMessage[]) =>
        Promise.resolve(
          packRuns(
            messages,
            (topic) => ({ partitions: this.partitionCount(topic), maxBatchBytes: this.maxBatchBytes }),
            (m, partitions) => partitionOfKey(m.key, partitions),
            Number.MAX_SAFE_INTEGER,
          ),
        ),
      disconnect: () => Promise.resolve(),
    });
  }

  createConsumer(options: ConsumerOptions): Consumer {
    return new InMemoryConsumer(this, options);
  }

  ping(): Promise<boolean> {
    return Promise.resolve(!this.down);
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  groupOffsets(groupId: string, topics: string[]): Promise<GroupOffset[]> {
    if (this.down) return Promise.reject(new Error('in-memory kafka is down'));
    return Promise.resolve(
      topics.flatMap((topic) =>
        (this.topics.get(topic) ?? []).map((log, partition) => ({
          topic,
          partition,
          committed: this.committedOffset(groupId, topic, partition) ?? null,
          start: 0,
          end: log.length,
        })),
      ),
    );
  }

  /** Every message of a topic, partition by partition, in offset order. */
  messages(topic: string): IncomingMessage[] {
    return (this.topics.get(topic) ?? []).flat();
  }

  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.committed.get(`${groupId}|${topic}|${partition}`);
  }

  /** @internal */
  append(messages: OutgoingMessage[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('in-memory kafka is down'));
    const batchBytes = new Map<string, number>();
    for (const m of messages) {
      const slot = `${m.topic}|${partitionOfKey(m.key, this.partitionCount(m.topic))}`;
      batchBytes.set(slot, (batchBytes.get(slot) ?? 0) + recordSizeBound(m));
    }
    if ([...batchBytes.values()].some((bytes) => bytes > this.maxBatchBytes))
      return Promise.reject(
        new MessageTooLargeError(messages.length, new Error('MESSAGE_TOO_LARGE (in-memory)')),
      );
    for (const m of messages) {
      if (!this.topics.has(m.topic))
        this.topics.set(
          m.topic,
          Array.from({ length: this.defaultPartitions }, () => []),
        );
      const partitions = this.topics.get(m.topic)!;
      const partition = partitionOfKey(m.key, partitions.length);
      const log = partitions[partition];
      log.push({
        topic: m.topic,
        partition,
        offset: String(log.length),
        key: m.key,
        value: Buffer.from(m.value),
        headers: { ...m.headers },
        timestamp: String(Date.now()),
      });
    }
    this.appended.emit('append');
    return Promise.resolve();
  }

  private partitionCount(topic: string): number {
    return this.topics.get(topic)?.length ?? this.defaultPartitions;
  }

  /** @internal */
  partitionsOf(topic: string): IncomingMessage[][] {
    return this.topics.get(topic) ?? [];
  }

  /** @internal */
  commit(groupId: string, topic: string, partition: number, nextOffset: number): void {
    this.committed.set(`${groupId}|${topic}|${partition}`, nextOffset);
  }

  /** @internal */
  claimGroup(groupId: string): boolean {
    if (this.activeGroups.has(groupId)) return false;
    this.activeGroups.add(groupId);
    return true;
  }

  /** @internal */
  releaseGroup(groupId: string): void {
    this.activeGroups.delete(groupId);
  }

  /** @internal Resolves on the next append or after `ms`, whichever is first. */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appended.off('append', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.appended.on('append', done);
    });
  }
}

function partitionOfKey(key: string, partitions: number): number {
  return createHash('md5').update(key).digest().readUInt32BE(0) % partitions;
}

class InMemoryConsumer implements Consumer {
  private running = false;
  private loop?: Promise<void>;
  private owner = false;

  constructor(
    private readonly broker: InMemoryKafka,
    private readonly options: ConsumerOptions,
  ) {}

  get connected(): boolean {
    return this.running && this.broker.isUp;
  }

  async start(): Promise<void> {
    await this.options.prepare?.();
    this.owner = this.broker.claimGroup(this.options.groupId);
    this.running = true;
    if (this.owner) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    if (this.owner) this.broker.releaseGroup(this.options.groupId);
  }

  private async run(): Promise<void> {
    const { groupId, topics, fromBeginning, handle, deadLetterTopic } = this.options;
    const retry = this.options.retry ?? DEFAULT_CONSUMER_RETRY;
    const start = new Map<string, number>();
    for (const topic of topics) {
      this.broker
        .partitionsOf(topic)
        .forEach((log, p) => start.set(`${topic}|${p}`, fromBeginning ? 0 : log.length));
    }
    const backoff = new Map<string, number>();
    while (this.running) {
      let progressed = false;
      let wait = 50;
      for (const topic of topics) {
        const partitions = this.broker.partitionsOf(topic);
        for (let p = 0; p < partitions.length && this.running; p++) {
          const key = `${topic}|${p}`;
          const next = this.broker.committedOffset(groupId, topic, p) ?? start.get(key) ?? 0;
          const message = partitions[p][next];
          if (!message) continue;
          const pending = this.options.handleBatch ? partitions[p].slice(next, next + BATCH_LIMIT) : [];
          if (!backoff.has(key) && (await handledAsBatch(this.options.handleBatch, pending, () => {}))) {
            this.broker.commit(groupId, topic, p, next + pending.length);
            progressed = true;
            continue;
          }
          const decision = await decide(handle, message);
          if (decision.kind === 'retry') {
            const delay = nextBackoff(backoff.get(key), retry);
            backoff.set(key, delay);
            wait = Math.min(wait, delay);
            continue;
          }
          if (decision.kind === 'dead-letter')
            await this.broker.append([deadLetterOf(message, deadLetterTopic, decision.reason)]);
          backoff.delete(key);
          this.broker.commit(groupId, topic, p, next + 1);
          progressed = true;
        }
      }
      if (!progressed && this.running) await this.broker.waitForAppend(backoff.size > 0 ? wait : 50);
    }
  }
}
