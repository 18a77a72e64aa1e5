import { InMemoryKafka } from './in-memory.kafka';
import type { OutgoingMessage } from './kafka.port';
import {
  COMPRESS_FROM_BYTES,
  MessageTooLargeError,
  budgetOf,
  compressionFor,
  packRuns,
  recordSizeBound,
} from './produce-batching';

function setup(maxBatchBytes = 10_000, partitions = 2, requestBudget = Number.MAX_SAFE_INTEGER) {
  // Keys `p<n>-…` go to partition n, so a test chooses where each message lands.
  const partitionOf = (m: OutgoingMessage, count: number) => Number(/^p(\d+)-/.exec(m.key)![1]) % count;
  const message = (key: string, bytes: number, topic = 't'): OutgoingMessage => ({
    topic,
    key,
    value: 'x'.repeat(bytes),
    headers: { 'event-id': key },
  });
  const sut = (messages: OutgoingMessage[]) =>
    packRuns(messages, () => ({ partitions, maxBatchBytes }), partitionOf, requestBudget);
  return { sut, message, budget: budgetOf(maxBatchBytes) };
}

const keys = (runs: OutgoingMessage[][]) => runs.map((run) => run.map((m) => m.key));

describe('packRuns', () => {
  it('keeps a batch that fits every partition in one run', () => {
    const { sut, message } = setup();
    const messages = Array.from({ length: 20 }, (_, i) => message(`p${i % 2}-${i}`, 400));
    expect(sut(messages)).toEqual([messages]);
  });

  it('starts a new run when a partition would go over its budget, keeping the order', () => {
    const { sut, message, budget } = setup();
    const size = recordSizeBound(message('p0-0', 3_000));
    const perRun = Math.floor(budget / size);
    const messages = Array.from({ length: perRun * 2 + 1 }, (_, i) => message(`p0-${i}`, 3_000));
    const runs = sut(messages);
    expect(runs.map((r) => r.length)).toEqual([perRun, perRun, 1]);
    expect(runs.flat()).toEqual(messages);
  });

  it('budgets partitions apart: other partitions fill while one is full', () => {
    const { sut, message } = setup(10_000, 3);
    const messages = [
      message('p0-a', 6_000),
      message('p1-a', 6_000),
      message('p2-a', 6_000),
      message('p0-b', 6_000),
    ];
    expect(keys(sut(messages))).toEqual([['p0-a', 'p1-a', 'p2-a'], ['p0-b']]);
  });

  it('gives a message larger than any batch a run of its own', () => {
    const { sut, message } = setup();
    const messages = [message('p0-a', 100), message('p1-big', 20_000), message('p0-b', 100)];
    expect(keys(sut(messages))).toEqual([['p0-a'], ['p1-big'], ['p0-b']]);
  });

  it('bounds the whole request too', () => {
    const { sut, message } = setup(10_000, 4, 9_000);
    const messages = [0, 1, 2, 3].map((p) => message(`p${p}-a`, 4_000));
    expect(keys(sut(messages))).toEqual([
      ['p0-a', 'p1-a'],
      ['p2-a', 'p3-a'],
    ]);
  });

  it('counts bytes, not characters', () => {
    const { sut, message } = setup(10_000, 1);
    const wide = { ...message('p0-a', 0), value: '€'.repeat(2_000) }; // 6,000 bytes of UTF-8
    expect(keys(sut([wide, { ...wide, key: 'p0-b' }]))).toEqual([['p0-a'], ['p0-b']]);
  });
});

describe('InMemoryKafka limits', () => {
  it('refuses a partition batch above its limit and writes nothing of the request', async () => {
    const kafka = new InMemoryKafka(1, 5_000);
    await kafka.ensureTopics(['t'], 1);
    const producer = await kafka.createProducer();
    const small = { topic: 't', key: 'a', value: 'x'.repeat(100) };
    const big = { topic: 't', key: 'b', value: 'x'.repeat(6_000) };
    await expect(producer.send([small, big])).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(kafka.messages('t')).toHaveLength(0);
    const runs = await producer.pack([small, big, small]);
    expect(runs.map((r) => r.length)).toEqual([1, 1, 1]);
  });
});

describe('compressionFor', () => {
  const message = (bytes: number): OutgoingMessage => ({
    topic: 't',
    key: 'ord_1',
    value: 'x'.repeat(bytes),
    headers: { 'event-id': 'e' },
  });

  it('sends a lone event uncompressed', () => {
    expect(compressionFor([message(1_000)])).toBe('none');
  });

  it('compresses a request from COMPRESS_FROM_BYTES on, counting every record of it', () => {
    const size = recordSizeBound(message(1_000));
    const below = Math.floor((COMPRESS_FROM_BYTES - 1) / size);
    expect(compressionFor(Array.from({ length: below }, () => message(1_000)))).toBe('none');
    expect(compressionFor(Array.from({ length: below + 1 }, () => message(1_000)))).toBe('gzip');
    expect(compressionFor([message(COMPRESS_FROM_BYTES)])).toBe('gzip');
  });
});
