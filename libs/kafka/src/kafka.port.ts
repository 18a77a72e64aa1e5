/**
 * The port every app uses to talk to Kafka. Two implementations: `KafkaJsClient` (real broker) and
 * `InMemoryKafka` (unit tests). Both apply the same commit rule, from `decide()` in consumer-rule.ts.
 */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers?: Record<string, string>;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface Producer {
  /**
   * Sends `messages` in one produce request (compressed) and resolves once every one is acknowledged by all
   * in-sync replicas. Order within a key is kept. Throws `MessageTooLargeError` when the broker refuses a
   * partition's batch as too large; other partitions of the same request may have been written, and the
   * producer must then be replaced (its sequence numbers no longer match the broker's).
   */
  send(messages: OutgoingMessage[]): Promise<void>;
  /**
   * `messages` cut, in order, into consecutive runs that each fit one `send` under the limits the broker
   * reports for their topics (read once per producer). A message too large for any batch gets a run alone.
   */
  pack(messages: OutgoingMessage[]): Promise<OutgoingMessage[][]>;
  disconnect(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Poison messages are copied here (with their origin in headers) and then committed. */
  deadLetterTopic: string;
  /**
   * Handle one message. Resolve → the offset is committed. Throw `PoisonMessageError` → dead-letter, then
   * commit. Throw anything else → nothing is committed; the partition pauses and the same message is
   * handled again after a backoff, so order within the partition holds.
   */
  handle(message: IncomingMessage): Promise<void>;
  /**
   * Optional fast path: consecutive messages of one partition (in order, at most `BATCH_LIMIT`) at once, so a
   * handler can write them in one statement. Resolve → all of them are committed. Throw anything → nothing is
   * committed by this call and the same messages go through `handle` one by one under the rule above (a poison
   * message is isolated, the others still processed). It must therefore be idempotent with `handle`.
   */
  handleBatch?(messages: IncomingMessage[]): Promise<void>;
  /** Backoff after a failed handler, doubling from `initialMs` up to `maxMs`. */
  retry?: { initialMs: number; maxMs: number };
  /**
   * 0 (default): each fetched batch's offsets are committed before the next fetch. > 0: handled offsets are
   * committed in the background at this interval (and on stop), so the fetch loop never waits on a commit —
   * lower latency, at the price of handling up to an interval's worth of messages again after a crash (the
   * handler must be idempotent). The in-memory fake always commits at once.
   */
  commitIntervalMs?: number;
  /** Partitions handled in parallel; messages within one partition are always sequential. */
  partitionsConsumedConcurrently?: number;
  /**
   * Runs at the start of every connection attempt, before subscribing (e.g. creating the topics); a failure
   * counts as a failed attempt and is retried with it.
   */
  prepare?(): Promise<void>;
  /** Backoff between connection attempts; DEFAULT_CONNECT_RETRY when absent. */
  connectRetry?: { initialMs: number; maxMs: number };
}

export interface Consumer {
  /**
   * Starts consuming in the background and resolves at once, without waiting for the broker: connection
   * attempts (and `prepare`) are retried with a capped exponential backoff until the broker answers, and a
   * consumer that loses the broker later reconnects the same way. Never rejects for an unreachable broker.
   */
  start(): Promise<void>;
  /** True while the consumer is a member of its group (joined, not crashed, not stopped): readiness. */
  readonly connected: boolean;
  /** Stops fetching, lets the in-flight handler finish, commits, leaves the group. */
  stop(): Promise<void>;
}

export interface GroupOffset {
  topic: string;
  partition: number;
  /** The next offset the group will read (what it committed), or null when it has committed none. */
  committed: number | null;
  /** The offset of the partition's oldest retained record (its low watermark). */
  start: number;
  /** The offset the next record of the partition will get (its high watermark). */
  end: number;
}

export interface KafkaClient {
  /** Creates missing topics (existing ones are left as they are) and waits for their leaders. */
  ensureTopics(topics: string[], partitions: number): Promise<void>;
  createProducer(): Promise<Producer>;
  createConsumer(options: ConsumerOptions): Consumer;
  /** True when the cluster answers a metadata request; used by readiness checks. */
  ping(): Promise<boolean>;
  /** Per partition of `topics`: the group's committed offset (null: none yet) and the partition's end offset. */
  groupOffsets(groupId: string, topics: string[]): Promise<GroupOffset[]>;
  disconnect(): Promise<void>;
}
