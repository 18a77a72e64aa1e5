import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer as KjsConsumer,
  type KafkaMessage,
  type LogEntry,
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
  IncomingMessage,
  KafkaClient,
  OutgoingMessage,
  Producer,
} from './kafka.port';

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
  private admin?: Promise<Admin>;
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
        ({ level, log }: LogEntry) => {
          const { message, ...rest } = log;
          this.log(LEVELS[level] ?? 'info', `kafkajs: ${message}`, rest);
        },
    });
  }

  private getAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.admin = undefined;
      throw error;
    });
    return this.admin;
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
    return new KafkaJsProducer(producer);
  }

  createConsumer(options: ConsumerOptions): Consumer {
    return new KafkaJsConsumer(this.kafka, options, this.log);
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

  async disconnect(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }
}

class KafkaJsProducer implements Producer {
  constructor(private readonly producer: KjsProducer) {}

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      })),
    });
  }

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
 */
class KafkaJsConsumer implements Consumer {
  private consumer?: KjsConsumer;
  private dlqProducer?: Producer;
  /** Handled but not yet committed: `topic|partition` → next offset to commit (interval mode). */
  private readonly pending = new Map<string, { topic: string; partition: number; offset: string }>();
  private committing?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly log: NonNullable<KafkaJsClientOptions['log']>,
  ) {}

  async start(): Promise<void> {
    const { groupId, topics, fromBeginning } = this.options;
    const retry = this.options.retry ?? DEFAULT_CONSUMER_RETRY;
    const dlqProducerRaw = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await dlqProducerRaw.connect();
    this.dlqProducer = new KafkaJsProducer(dlqProducerRaw);

    // maxWaitTime 1 s: a partition resumed after a backoff is fetched again within a second even when idle.
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: 15_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 1_000,
    });
    this.consumer = consumer;
    await consumer.connect();
    if (this.options.commitIntervalMs) {
      this.timer = setInterval(() => void this.commitPending(), this.options.commitIntervalMs);
      this.timer.unref();
    }
    await consumer.subscribe({ topics, fromBeginning });
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
    this.committing ??= (async () => {
      const offsets = [...this.pending.values()];
      this.pending.clear();
      try {
        if (offsets.length > 0) await this.consumer?.commitOffsets(offsets);
      } catch (error) {
        // A partition lost in a rebalance cannot be committed by this member: its new owner handles those
        // messages again (handlers are idempotent). Anything else is retried with the next tick.
        for (const o of offsets)
          if (!this.pending.has(`${o.topic}|${o.partition}`))
            this.pending.set(`${o.topic}|${o.partition}`, o);
        this.log('warn', 'offset commit failed; will retry', {
          groupId: this.options.groupId,
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        this.committing = undefined;
      }
    })();
    return this.committing;
  }

  /** Waits for a commit in progress, then commits everything pending. */
  private async flushCommits(): Promise<void> {
    await this.committing;
    await this.commitPending();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // Interval mode: commit what was handled so far while still a member; a batch still running commits its
    // own offsets when it sees the consumer stopping.
    if (this.options.commitIntervalMs) await this.flushCommits();
    // disconnect() stops fetching, waits for the running batch (which commits what it finished), leaves the group.
    await this.consumer?.disconnect();
    await this.dlqProducer?.disconnect();
    this.consumer = undefined;
    this.dlqProducer = undefined;
  }
}
