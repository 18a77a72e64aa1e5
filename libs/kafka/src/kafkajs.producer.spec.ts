import type { Producer as KjsProducer } from 'kafkajs';
import { KafkaJsProducer } from './kafkajs.client';

/** What pack() reads from the broker fails when the broker is gone: the caller gets the error, nothing else does. */
describe('KafkaJsProducer.pack while the broker is unreachable', () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', record));
  afterAll(() => process.off('unhandledRejection', record));

  const message = { topic: 'orders', key: 'ord_1', value: '{}', headers: {} };
  const down = (afterMs: number) => () =>
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connect ECONNREFUSED')), afterMs));

  it.each([
    ['the request limit fails first', 0, 20],
    ['the topic limits fail first', 20, 0],
    ['both fail together', 0, 0],
  ])('%s: pack rejects and leaves no unhandled rejection behind', async (_, requestMs, topicMs) => {
    const producer = new KafkaJsProducer({} as KjsProducer, down(topicMs), down(requestMs));
    await expect(producer.pack([message])).rejects.toThrow('ECONNREFUSED');
    // Long enough for the other read to settle and for Node to report it if nobody handles it.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(unhandled).toEqual([]);
  });

  it('reads the limits again on the next pack once the broker answers', async () => {
    let up = false;
    const limits = () => (up ? Promise.resolve({ partitions: 1, maxBatchBytes: 1_000_000 }) : down(0)());
    const request = () => (up ? Promise.resolve(10_000_000) : down(0)());
    const producer = new KafkaJsProducer({} as KjsProducer, limits, request);
    await expect(producer.pack([message])).rejects.toThrow('ECONNREFUSED');
    // The caller retries after a backoff, by when every failed read has settled (one in flight is shared).
    await new Promise((resolve) => setTimeout(resolve, 20));
    up = true;
    await expect(producer.pack([message])).resolves.toEqual([[message]]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled).toEqual([]);
  });
});
