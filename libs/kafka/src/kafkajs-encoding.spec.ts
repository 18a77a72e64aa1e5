import { createRequire } from 'node:module';
import {
  KAFKAJS_VERSION,
  encodeHeader,
  encodeRecord,
  kafkajsEncoders,
  rightSizedEncoding,
  type RecordEncoder,
} from './kafkajs-encoding';

const load = createRequire(require.resolve('kafkajs'));

describe('right-sized kafkajs record encoding', () => {
  it('is written against the installed kafkajs and replaces its encoders', () => {
    expect((load('./package.json') as { version: string }).version).toBe(KAFKAJS_VERSION);
    expect(rightSizedEncoding).toBe(true);
    expect(load('./src/protocol/recordBatch/record/v0/index.js')).toBe(encodeRecord);
    expect(load('./src/protocol/recordBatch/header/v0/index.js')).toBe(encodeHeader);
  });

  const long = 'x'.repeat(20_000);
  const headerCases: { key: string; value: Buffer | string | null }[] = [
    { key: 'event-id', value: '0193a4e2-7b1c-7d4e-8f00-123456789abc' },
    { key: 'ce_source', value: 'tidings/ünïcødé ✓ 🎉' },
    { key: 'é', value: Buffer.from([0, 1, 2, 255]) },
    { key: 'empty', value: '' },
    { key: 'null', value: null },
    { key: 'long', value: long },
  ];

  it.each(headerCases)('encodes header $key as kafkajs does', (header) => {
    expect(Buffer.compare(encodeHeader(header).buffer, kafkajsEncoders.header(header).buffer)).toBe(0);
  });

  // kafkajs' record encoder refuses a null header value (our producer never sends one).
  const headers = Object.fromEntries(
    headerCases.filter((h) => h.value !== null).map((h) => [h.key, h.value]),
  );
  const recordCases: Parameters<RecordEncoder>[0][] = [
    { key: 'ord_1', value: '{"a":1}' },
    { key: 'ord_1', value: '{"a":1}', headers },
    { key: 'ord_ü', value: long, headers, offsetDelta: 1_999, timestampDelta: 123_456 },
    { key: null, value: null, headers: {} },
    { key: Buffer.from('k'), value: Buffer.from('v'), headers: { multi: ['one', 'two', ''] } },
    { key: 'k', value: 'v', offsetDelta: 70_000, timestampDelta: 2 ** 40 },
  ];

  it.each(recordCases.map((r, i) => [i, r] as const))('encodes record %i as kafkajs does', (_, record) => {
    expect(Buffer.compare(encodeRecord(record).buffer, kafkajsEncoders.record(record).buffer)).toBe(0);
  });

  it('allocates exactly what it writes', () => {
    const encoder = encodeRecord({ key: 'ord_1', value: long, headers });
    expect(encoder.offset).toBe(encoder.buf.length);
  });
});
