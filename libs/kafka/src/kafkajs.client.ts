// First: kafkajs must load its produce encoders after this replaced them (see the module).
import './kafkajs-encoding';
import {
  CompressionTypes,
  ConfigResourceTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer as KjsConsumer,
  type KafkaMessage,
  type LogEntry,
  type PartitionMetadata,
  type Producer as KjsProducer,
} from 'kafkajs';
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
import { keepConnected, SharedConnection } from './connection-retry';
import {
  MessageTooLargeError,
  budgetOf,
  compressionFor,
  packRuns,
  type TopicLimits,
} from './produce-batching';

export interface KafkaJsClientOptions {
  brokers: string[];
  clientId: string;
  /** Structured log sink for kafkajs' own warnings and errors, and for consumer retries. */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

const LEVELS: Record<number, 'info' | 'warn' | 'error'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'info',
  [logLevel.NOTHING]: 'info',
};

/** kafkajs loggers whose errors are connection attempts it retries. */
const RETRIED_NAMESPACES = new Set(['Connection', 'BrokerPool']);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates the missing topics and waits until every partition has a leader. kafkajs' own
 * `waitForLeaders` fails on KRaft when the broker briefly answers "does not host this topic-partition"
 * for a just-created topic, so creation is fire-and-check: metadata is polled until it is complete.
 * Safe when several processes create the same topics at once.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: string[],
  partitions: number,
  timeoutMs = 30_000,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
      });
    } catch (error) {
      // Another process created some of them first: fine, the metadata check below decides.
      if (!/already exists/i.test(JSON.stringify((error as { errors?: unknown }).errors ?? String(error))))
        throw error;
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      if (
        meta.length === topics.length &&
        meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      )
        return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`topics without a leader after ${timeoutMs} ms: ${topics.join(', ')}`);
    await sleep(100);
  }
}

export class KafkaJsClient implements KafkaClient {
  private readonly kafka: Kafka;
  private readonly admin = new SharedConnection(
    async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    },
    (admin: Admin) => admin.disconnect(),
  );
  private readonly log: NonNullable<KafkaJsClientOptions['log']>;

  constructor(options: KafkaJsClientOptions) {
    this.log = options.log ?? (() => undefined);
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      // A down broker is retried with a capped backoff rather than failing the caller quickly: the relay and
      // consumers are designed to wait for Kafka, not to crash because of it.
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
      connectionTimeout: 3_000,
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, level, log }: LogEntry) => {
          const { message, ...rest } = log;
          // An unreachable broker is retried (by kafkajs, then by keepConnected, which logs each retry with
          // its delay): expected during an outage, so a warning, not an error on every attempt.
          const retried = level === logLevel.ERROR && RETRIED_NAMESPACES.has(namespace);
          this.log(retried ? 'warn' : (LEVELS[level] ?? 'info'), `kafkajs: ${message}`, rest);
        },
    });
  }

  private getAdmin(): Promise<Admin> {
    return this.admin.get();
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    await createTopicsAndWait(await this.getAdmin(), topics, partitions);
  }

  async createProducer(): Promise<Producer> {
    const producer = this.kafka.producer({
      idempotent: true,
      // One request in flight per broker keeps order within a key across retries.
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Unlimited retries (capped backoff) as the idempotent producer requires: a send waits for Kafka.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await producer.connect();
    return new KafkaJsProducer(
      producer,
      (topic) => this.topicLimits(topic),
      () => this.requestLimit(),
    );
  }

  /** A topic's batch limit and partition count as the broker reports them (the broker's when it has none). */
  private async topicLimits(topic: string): Promise<TopicLimits> {
    const admin = await this.getAdmin();
    const broker = await this.brokerLimits();
    let maxBatchBytes = broker.maxBatchBytes;
    let partitions = 1;
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic,
            configNames: ['max.message.bytes', 'segment.bytes'],
          },
        ],
      });
      maxBatchBytes = Math.min(
        ...resources.flatMap((r) => r.configEntries.map((e) => Number(e.configValue))).filter((n) => n > 0),
        broker.maxBatchBytes,
      );
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      partitions = Math.max(1, topics[0]?.partitions.length ?? 1);
    } catch (error) {
      // Not created yet (the broker will create it, or refuse the send): budget the broker's limit, and one
      // partition, so the whole topic stays under what a single partition accepts.
      this.log('warn', 'topic limits unknown; using the broker limit for one partition', {
        topic,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    this.log('info', 'topic limits read from the broker', { topic, partitions, maxBatchBytes });
    return { partitions, maxBatchBytes };
  }

  private async requestLimit(): Promise<number> {
    return (await this.brokerLimits()).maxRequestBytes;
  }

  /**
   * The smallest limits over the brokers: `message.max.bytes` and `log.segment.bytes` (what a partition batch
   * may hold when its topic sets nothing) and `socket.request.max.bytes` (a larger request is dropped with
   * the connection). A broker that does not answer DescribeConfigs (no ACL for it) is taken at Kafka's
   * defaults, logged: the split-on-refusal path still catches a lower limit.
   */
  private async brokerLimits(): Promise<{ maxBatchBytes: number; maxRequestBytes: number }> {
    const admin = await this.getAdmin();
    const { brokers } = await admin.describeCluster();
    const names = ['message.max.bytes', 'log.segment.bytes', 'socket.request.max.bytes'];
    const values = new Map<string, number>();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: brokers.map((b) => ({
          type: ConfigResourceTypes.BROKER,
          name: String(b.nodeId),
          configNames: names,
        })),
      });
      for (const e of resources.flatMap((r) => r.configEntries)) {
        const n = Number(e.configValue);
        if (n > 0) values.set(e.configName, Math.min(n, values.get(e.configName) ?? n));
      }
    } catch (error) {
      this.log('warn', 'broker limits unknown; assuming Kafka defaults', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    return {
      maxBatchBytes: Math.min(
        values.get('message.max.bytes') ?? KAFKA_DEFAULT_MESSAGE_MAX_BYTES,
        values.get('log.segment.bytes') ?? Number.MAX_SAFE_INTEGER,
      ),
      maxRequestBytes: values.get('socket.request.max.bytes') ?? KAFKA_DEFAULT_SOCKET_REQUEST_MAX_BYTES,
    };
  }

  createConsumer(options: ConsumerOptions): Consumer {
    return new KafkaJsConsumer(this.kafka, options, this.log, () => this.createProducer());
  }

  async groupOffsets(groupId: string, topics: string[]): Promise<GroupOffset[]> {
    const admin = await this.getAdmin();
    const [committed, ends] = await Promise.all([
      admin.fetchOffsets({ groupId, topics }),
      Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) }))),
    ]);
    const byPartition = new Map(
      committed.flatMap((t) => t.partitions.map((p) => [`${t.topic}|${p.partition}`, Number(p.offset)])),
    );
    return ends.flatMap(({ topic, partitions }) =>
      partitions.map((p) => {
        const offset = byPartition.get(`${topic}|${p.partition}`) ?? -1;
        return {
          topic,
          partition: p.partition,
          committed: offset < 0 ? null : offset,
          start: Number(p.low),
          end: Number(p.high),
        };
      }),
    );
  }

  async ping(): Promise<boolean> {
    try {
      const admin = await this.getAdmin();
      await admin.describeCluster();
      return true;
    } catch {
      return false;
    }
  }

  disconnect(): Promise<void> {
    return this.admin.drop();
  }
}

/**
 * GZIP: built into kafkajs (Snappy, LZ4 and ZSTD each need a native add-on, and npm here runs no install
 * scripts) and decoded by every Kafka client an internal service may use. Envelope JSON shrinks ~18× at
 * ~3.5 ms of libuv thread-pool time per 2,000-event batch on the dev machine, off the relay's main thread.
 * Only for requests of `COMPRESS_FROM_BYTES` or more (see `compressionFor`).
 */
const COMPRESSION = CompressionTypes.GZIP;

// Kafka's documented defaults, used only when a broker will not describe its configuration.
const KAFKA_DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;
const KAFKA_DEFAULT_SOCKET_REQUEST_MAX_BYTES = 104_857_600;

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

function refusedAsTooLarge(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause)
    if (TOO_LARGE.has((e as { type?: string }).type ?? '')) return true;
  return false;
}

const metadataByCount = new Map<number, PartitionMetadata[]>();

/** What the partitioner reads of a topic's metadata: for a keyed message, only how many partitions it has. */
function partitionsMetadata(count: number): PartitionMetadata[] {
  let list = metadataByCount.get(count);
  if (!list) {
    list = Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [],
      isr: [],
      offlineReplicas: [],
      partitionErrorCode: 0,
    }));
    metadataByCount.set(count, list);
  }
  return list;
}

export class KafkaJsProducer implements Producer {
  /** Limits are read once per producer: after a refusal the caller replaces the producer, which re-reads them. */
  private readonly limits = new Map<string, Promise<TopicLimits>>();
  private requestLimit?: Promise<number>;
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    private readonly producer: KjsProducer,
    private readonly readTopicLimits: (topic: string) => Promise<TopicLimits>,
    private readonly readRequestLimit: () => Promise<number>,
  ) {}

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic);
      if (list) list.push(m);
      else byTopic.set(m.topic, [m]);
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        compression: compressionFor(messages) === 'gzip' ? COMPRESSION : CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        })),
      });
    } catch (error) {
      if (refusedAsTooLarge(error)) throw new MessageTooLargeError(messages.length, error);
      throw error;
    }
  }

  async pack(messages: OutgoingMessage[]): Promise<OutgoingMessage[][]> {
    const topics = [...new Set(messages.map((m) => m.topic))];
    this.requestLimit ??= this.readRequestLimit().catch((error: unknown) => {
      this.requestLimit = undefined;
      throw error;
    });
    // Awaited together: with the broker gone every read fails, and a read awaited only after another one had
    // failed would be left rejected with no one waiting for it (an unhandled rejection ends a Node process).
    const [requestLimit, topicLimits] = await Promise.all([
      this.requestLimit,
      Promise.all(topics.map((topic) => this.topicLimits(topic))),
    ]);
    const known = new Map(topics.map((topic, i) => [topic, topicLimits[i]]));
    return packRuns(messages, (topic) => known.get(topic)!, this.partitionOf, budgetOf(requestLimit));
  }

  /** Read once per producer; a failed read is forgotten, so the next pack reads it again. */
  private topicLimits(topic: string): Promise<TopicLimits> {
    let limits = this.limits.get(topic);
    if (!limits) {
      limits = this.readTopicLimits(topic).catch((error: unknown) => {
        this.limits.delete(topic);
        throw error;
      });
      this.limits.set(topic, limits);
    }
    return limits;
  }

  /** kafkajs' own default partitioner, so a run is budgeted on the partition the producer will pick. */
  private readonly partitionOf = (message: OutgoingMessage, partitions: number): number =>
    this.partitioner({
      topic: message.topic,
      partitionMetadata: partitionsMetadata(partitions),
      message: { key: message.key, value: message.value },
    });

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) headers[name] = first.toString();
  }
  return headers;
}

/**
 * Consumer loop over kafkajs with the explicit commit rule of consumer-rule.ts. Offsets are committed
 * manually (autoCommit off) after each batch's last handled message, or — with `commitIntervalMs` — by a
 * timer outside the fetch loop and once more on stop. A failing handler is retried in place
 * with a growing backoff: nothing after it in its partition is handled or committed first, so order holds.
 * If the consumer stops (or loses the partition) meanwhile, the message stays uncommitted and is handled
 * again by whoever owns the partition next.
 * Connection: `start()` returns at once; keepConnected runs sessions (connect, subscribe, consume until a crash)
 * one after another with a capped backoff, so a broker that is down at boot or lost later is waited for.
 */
class KafkaJsConsumer implements Consumer {
  private consumer?: KjsConsumer;
  private dlqProducer?: Producer;
  /** Handled but not yet committed: `topic|partition` → next offset to commit (interval mode). */
  private readonly pending = new Map<string, { topic: string; partition: number; offset: string }>();
  private committing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopping?: AbortController;
  private loop?: Promise<void>;
  private joined = false;
  /** Ends the current session (stop()). */
  private endSession?: () => void;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly log: NonNullable<KafkaJsClientOptions['log']>,
    private readonly createProducer: () => Promise<Producer>,
  ) {}

  get connected(): boolean {
    return this.joined;
  }

  start(): Promise<void> {
    if (this.loop) return Promise.resolve();
    const stopping = new AbortController();
    this.stopping = stopping;
    if (this.options.commitIntervalMs) {
      this.timer = setInterval(() => void this.commitPending(), this.options.commitIntervalMs);
      this.timer.unref();
    }
    this.loop = keepConnected({
      what: `Kafka consumer ${this.options.groupId}`,
      retry: this.options.connectRetry,
      signal: stopping.signal,
      log: this.log,
      session: (connected) => this.session(stopping.signal, connected),
    });
    return Promise.resolve();
  }

  /**
   * One kafkajs consumer from connect to crash. kafkajs' own restart is off (`restartOnFailure`): it restarts
   * only after retriable errors and leaves the consumer dead after the others (a broker unreachable for
   * longer than its retries), so every crash ends the session and keepConnected starts a new one.
   */
  private async session(stopping: AbortSignal, connected: () => void): Promise<void> {
    const { groupId, topics, fromBeginning } = this.options;
    await this.options.prepare?.();
    if (!this.dlqProducer) {
      const producer = await this.createProducer();
      if (stopping.aborted) return producer.disconnect();
      this.dlqProducer = producer;
    }
    // maxWaitTime 1 s: a partition resumed after a backoff is fetched again within a second even when idle.
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: 15_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 1_000,
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
    });
    const ended = new Promise<Error | undefined>((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        this.joined = true;
        connected();
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => resolve(payload.error));
      this.endSession = () => resolve(undefined);
    });
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning });
      if (stopping.aborted) return;
      await this.run(consumer);
      const error = await ended;
      if (error && !stopping.aborted) throw error;
    } finally {
      this.joined = false;
      this.endSession = undefined;
      // Offsets handled under this session's membership cannot be committed by the next one: the partition's
      // next owner handles those messages again (handlers are idempotent).
      this.pending.clear();
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
    }
  }

  private async run(consumer: KjsConsumer): Promise<void> {
    const { groupId } = this.options;
    const retry = this.options.retry ?? DEFAULT_CONSUMER_RETRY;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const { topic, partition } = batch;
        let lastDone: string | undefined;
        const messages = batch.messages.map((raw): IncomingMessage => ({
          topic,
          partition,
          offset: raw.offset,
          key: raw.key?.toString() ?? null,
          value: raw.value,
          headers: headersOf(raw),
          timestamp: raw.timestamp,
        }));
        // After a failed batch, its messages go one by one (up to `singlesUntil`) before batching resumes.
        let singlesUntil = 0;
        for (let i = 0; i < messages.length;) {
          if (!isRunning() || isStale()) break;
          const slice = i >= singlesUntil ? messages.slice(i, i + BATCH_LIMIT) : [];
          const whole = await handledAsBatch(this.options.handleBatch, slice, (error) => {
            singlesUntil = i + slice.length;
            this.log('warn', 'batch handler failed; handling its messages one by one', {
              groupId,
              topic,
              partition,
              offset: slice[0].offset,
              error: error instanceof Error ? error.message : String(error),
            });
          });
          if (whole) {
            lastDone = slice[slice.length - 1].offset;
            resolveOffset(lastDone);
            i += slice.length;
            await heartbeat();
            continue;
          }
          const message = messages[i];
          let decision = await decide(this.options.handle, message);
          let delay: number | undefined;
          while (decision.kind === 'retry') {
            delay = nextBackoff(delay, retry);
            this.log('warn', 'consumer handler failed; will retry the same message', {
              groupId,
              topic,
              partition,
              offset: message.offset,
              retryInMs: delay,
              error: decision.error instanceof Error ? decision.error.message : String(decision.error),
            });
            // Back off in short slices, heartbeating, so the group keeps this member and stop() stays quick.
            for (let waited = 0; waited < delay && isRunning(); waited += 250) {
              await sleep(Math.min(250, delay - waited));
              await heartbeat();
            }
            if (!isRunning()) break;
            decision = await decide(this.options.handle, message);
          }
          if (decision.kind === 'retry') break;
          if (decision.kind === 'dead-letter') {
            await this.dlqProducer!.send([
              deadLetterOf(message, this.options.deadLetterTopic, decision.reason),
            ]);
            this.log('warn', 'poison message dead-lettered', {
              groupId,
              topic,
              partition,
              offset: message.offset,
              reason: decision.reason,
            });
          }
          resolveOffset(message.offset);
          lastDone = message.offset;
          i += 1;
          await heartbeat();
        }
        if (lastDone !== undefined) {
          const next = { topic, partition, offset: (BigInt(lastDone) + 1n).toString() };
          if (!this.options.commitIntervalMs) await consumer.commitOffsets([next]);
          else {
            this.pending.set(`${topic}|${partition}`, next);
            // Stopping: the group is left right after this batch, so commit now, while still a member.
            if (!isRunning()) await this.flushCommits();
          }
        }
      },
    });
  }

  /** Commits what was handled since the last commit; one commit at a time, so offsets never go backwards. */
  private commitPending(): Promise<void> {
    if (!this.committing) {
      // Cleared from `finally`, which always runs after this assignment: with nothing pending the commit
      // finishes without awaiting, and clearing inside it would run first and leave a settled promise here
      // for good — no later tick (nor stop()) would commit again.
      const commit = this.commitNow().finally(() => {
        if (this.committing === commit) this.committing = undefined;
      });
      this.committing = commit;
    }
    return this.committing;
  }

  private async commitNow(): Promise<void> {
    const offsets = [...this.pending.values()];
    this.pending.clear();
    try {
      if (offsets.length > 0) await this.consumer?.commitOffsets(offsets);
    } catch (error) {
      // A partition lost in a rebalance cannot be committed by this member: its new owner handles those
      // messages again (handlers are idempotent). Anything else is retried with the next tick.
      for (const o of offsets)
        if (!this.pending.has(`${o.topic}|${o.partition}`)) this.pending.set(`${o.topic}|${o.partition}`, o);
      this.log('warn', 'offset commit failed; will retry', {
        groupId: this.options.groupId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Waits for a commit in progress, then commits everything pending. */
  private async flushCommits(): Promise<void> {
    await this.committing;
    await this.commitPending();
  }

  async stop(): Promise<void> {
    const wasJoined = this.joined;
    this.stopping?.abort();
    clearInterval(this.timer);
    // Interval mode: commit what was handled so far while still a member; a batch still running commits its
    // own offsets when it sees the consumer stopping.
    if (this.options.commitIntervalMs) await this.flushCommits();
    // disconnect() stops fetching, waits for the running batch (which commits what it finished), leaves the group.
    await this.consumer?.disconnect();
    this.endSession?.();
    // A session still trying to reach the broker is not waited for: it sees the abort and closes what it opened.
    if (wasJoined) await this.loop;
    await this.dlqProducer?.disconnect();
    this.consumer = undefined;
    this.dlqProducer = undefined;
    this.loop = undefined;
  }
}
