import { createRequire } from 'node:module';

/*
 * Right-sized record encoding for kafkajs. kafkajs 2.2.4 encodes every record header into an Encoder of its
 * own, i.e. a zero-filled, unpooled 512-byte Buffer, and every record into another one that it then grows to
 * 1 KiB for a ~750-byte event: fourteen allocations and ~7 KB of garbage per relay event, which made the
 * twelve headers most of the produce stage's CPU (docs/benchmarks.md, "Relay drain"). The encoders below
 * write the same bytes (checked against kafkajs' own in kafkajs-encoding.spec.ts) into one buffer per header
 * and one per record, each of the exact size and taken from Node's buffer pool.
 *
 * They replace kafkajs' modules in Node's module cache. kafkajs loads its produce request encoder, and
 * through it these two, lazily on the first send, so importing this before any producer sends is enough
 * (kafkajs.client.ts imports it first). Only for the version they were written against: any other version
 * keeps its own encoders (and the spec fails, so the upgrade looks at this again).
 */

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  writeInt8(value: number): KafkajsEncoder;
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: unknown): KafkajsEncoder;
  writeVarIntString(value: string): KafkajsEncoder;
  writeVarIntBytes(value: Buffer | string | null): KafkajsEncoder;
  writeVarIntArray(value: KafkajsEncoder[]): KafkajsEncoder;
}

interface EncoderClass {
  prototype: KafkajsEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
  sizeOfVarIntBytes(value: Buffer | string | null): number;
}

type HeaderValue = Buffer | string | null;
export type HeaderEncoder = (header: { key: string; value: HeaderValue }) => KafkajsEncoder;
export type RecordEncoder = (record: {
  offsetDelta?: number;
  timestampDelta?: unknown;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}) => KafkajsEncoder;

/** The kafkajs version these encoders reproduce byte for byte. */
export const KAFKAJS_VERSION = '2.2.4';

const load = createRequire(require.resolve('kafkajs'));
const HEADER_MODULE = load.resolve('./src/protocol/recordBatch/header/v0/index.js');
const RECORD_MODULE = load.resolve('./src/protocol/recordBatch/record/v0/index.js');
const Encoder = load('./src/protocol/encoder') as EncoderClass;

/** An Encoder over a fresh pooled buffer of `size` bytes (kafkajs' constructor would zero-fill 512 bytes). */
function encoderOf(size: number): KafkajsEncoder {
  const encoder = Object.create(Encoder.prototype) as KafkajsEncoder;
  encoder.buf = Buffer.allocUnsafe(size);
  encoder.offset = 0;
  return encoder;
}

/** Header => Key (varint-length string) Value (varint-length bytes, -1 for null), as kafkajs' header/v0. */
export const encodeHeader: HeaderEncoder = ({ key, value }) => {
  const keyBytes = Buffer.byteLength(key);
  return encoderOf(Encoder.sizeOfVarInt(keyBytes) + keyBytes + Encoder.sizeOfVarIntBytes(value))
    .writeVarIntString(key)
    .writeVarIntBytes(value);
};

/** Record => Length Attributes TimestampDelta OffsetDelta Key Value Headers, as kafkajs' record/v0. */
export const encodeRecord: RecordEncoder = ({
  offsetDelta = 0,
  timestampDelta = 0,
  key,
  value,
  headers = {},
}) => {
  const encoded: KafkajsEncoder[] = [];
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (Array.isArray(v)) for (const one of v) encoded.push(encodeHeader({ key: name, value: one }));
    else encoded.push(encodeHeader({ key: name, value: v }));
  }
  let headerBytes = Encoder.sizeOfVarInt(encoded.length);
  for (const h of encoded) headerBytes += h.offset;
  const sizeOfBody =
    1 + // attributes
    Encoder.sizeOfVarLong(timestampDelta) +
    Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) +
    Encoder.sizeOfVarIntBytes(value) +
    headerBytes;
  return encoderOf(Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody)
    .writeVarInt(sizeOfBody)
    .writeInt8(0)
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
    .writeVarIntBytes(key)
    .writeVarIntBytes(value)
    .writeVarIntArray(encoded);
};

/** kafkajs' own encoders, as loaded before the replacement (for the spec's byte-for-byte comparison). */
export const kafkajsEncoders = {
  header: load(HEADER_MODULE) as HeaderEncoder,
  record: load(RECORD_MODULE) as RecordEncoder,
};

/**
 * Whether kafkajs' produce path uses the encoders above: the version matches and its produce request was not
 * loaded before this module (it keeps the encoders it loaded with).
 */
export const rightSizedEncoding: boolean = install();

function install(): boolean {
  const version = (load('./package.json') as { version: string }).version;
  if (version !== KAFKAJS_VERSION) return false;
  const cache = load.cache;
  const produceRequest = load.resolve('./src/protocol/requests/produce/v3/request.js');
  if (cache[produceRequest] !== undefined) return cache[RECORD_MODULE]?.exports === encodeRecord;
  const header = cache[HEADER_MODULE];
  const record = cache[RECORD_MODULE];
  if (!header || !record) return false;
  // The record module captured the original header encoder when it loaded; it is replaced whole.
  header.exports = encodeHeader;
  record.exports = encodeRecord;
  return true;
}
