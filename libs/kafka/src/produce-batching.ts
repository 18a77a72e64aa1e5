import type { OutgoingMessage } from './kafka.port';

/** What the broker accepts, as it reports it (describeConfigs), for one topic. */
export interface TopicLimits {
  /** Partitions of the topic; a message's partition is `partitionOf(key, partitions)`. */
  partitions: number;
  /** min(`max.message.bytes`, `segment.bytes`): the largest record batch one partition accepts. */
  maxBatchBytes: number;
}

/** Thrown by `Producer.send` when the broker refuses a batch as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE). */
export class MessageTooLargeError extends Error {
  constructor(
    readonly messages: number,
    cause: unknown,
  ) {
    super(
      `the broker refused a batch of ${messages} message(s) as too large: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'MessageTooLargeError';
  }
}

// Upper bounds of the Kafka v2 record framing: a varint takes at most 5 bytes, a varlong 10.
const VARINT = 5;
const VARLONG = 10;
// A v2 record batch header: base offset, length, epoch, magic, crc, attributes, offsets, timestamps,
// producer id/epoch, base sequence, record count.
const BATCH_HEADER_BYTES = 61;
// Per partition in a produce request: partition id and record set length.
const PARTITION_ENTRY_BYTES = 8;

/**
 * What we fill of a broker limit. The record sizes below are upper bounds of the uncompressed framing; what
 * the broker measures is the compressed batch, which for our JSON is several times smaller. GZIP can grow
 * incompressible data, by at most 5 bytes per 16 KiB deflate block plus an 18-byte header (~0.03 %), and
 * kafkajs adds its own request framing: keeping 3 % of the limit free covers both with room to spare.
 */
export function budgetOf(limitBytes: number): number {
  return Math.max(1, Math.floor(limitBytes * 0.97) - BATCH_HEADER_BYTES);
}

/**
 * Below this many bytes (uncompressed bound) a produce request is sent uncompressed. A lone event, the usual
 * request when the pipeline is not saturated, is ~1 KB with its headers: GZIP would save ~600 bytes on
 * loopback or a LAN at the cost of a deflate stream set up and torn down in the producer and an inflate in every
 * consumer group that reads it — measured at 300 events/s, zlib was ~17 % of the relay's CPU and ~8 % of the
 * dispatcher's (docs/benchmarks.md, "Compression only where it pays"). From 16 KiB (a dozen events), the ratio
 * approaches the ~18× of full batches and the bytes saved outweigh it. Consumers read both kinds: Kafka
 * records each batch's codec in the batch itself.
 */
export const COMPRESS_FROM_BYTES = 16 * 1024;

/** The codec of one produce request of `messages`: `gzip` from `COMPRESS_FROM_BYTES`, else none. */
export function compressionFor(messages: OutgoingMessage[]): 'gzip' | 'none' {
  let bytes = 0;
  for (const m of messages) {
    bytes += recordSizeBound(m);
    if (bytes >= COMPRESS_FROM_BYTES) return 'gzip';
  }
  return 'none';
}

/** The most bytes `message` can take in an uncompressed v2 record batch. */
export function recordSizeBound(message: OutgoingMessage): number {
  let size = VARINT + 1 + VARLONG + VARINT; // length, attributes, timestamp delta, offset delta
  size += VARINT + Buffer.byteLength(message.key) + VARINT + Buffer.byteLength(message.value);
  size += VARINT; // header count
  for (const [name, value] of Object.entries(message.headers ?? {}))
    size += 2 * VARINT + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/**
 * Splits `messages`, keeping their order, into consecutive runs that each fit in ONE produce request: per
 * partition at most `budgetOf(maxBatchBytes)` of its topic, and in all at most `requestBudget`. A message that
 * alone exceeds its partition's budget gets a run of its own, so a broker that refuses it refuses nothing else.
 */
export function packRuns(
  messages: OutgoingMessage[],
  limitsOf: (topic: string) => TopicLimits,
  partitionOf: (message: OutgoingMessage, partitions: number) => number,
  requestBudget: number,
): OutgoingMessage[][] {
  const runs: OutgoingMessage[][] = [];
  let run: OutgoingMessage[] = [];
  let perPartition = new Map<string, number>();
  let requestBytes = 0;
  const close = () => {
    if (run.length > 0) runs.push(run);
    run = [];
    perPartition = new Map();
    requestBytes = 0;
  };
  for (const message of messages) {
    const limits = limitsOf(message.topic);
    const budget = budgetOf(limits.maxBatchBytes);
    const slot = `${message.topic}\u0000${partitionOf(message, limits.partitions)}`;
    const size = recordSizeBound(message);
    const oversized = size > budget || size + PARTITION_ENTRY_BYTES > requestBudget;
    const fits = () => {
      const inPartition = perPartition.get(slot);
      const added = size + (inPartition === undefined ? PARTITION_ENTRY_BYTES : 0);
      return (inPartition ?? 0) + size <= budget && requestBytes + added <= requestBudget;
    };
    if (oversized || !fits()) close();
    requestBytes += size + (perPartition.has(slot) ? 0 : PARTITION_ENTRY_BYTES);
    perPartition.set(slot, (perPartition.get(slot) ?? 0) + size);
    run.push(message);
    if (oversized) close();
  }
  close();
  return runs;
}
