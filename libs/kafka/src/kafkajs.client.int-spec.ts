import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import {
  ensureTestTopics,
  kafkaBrokers,
  startDedicatedKafka,
  testTopicPrefix,
} from '../../../test/support/infra';
import { eventually } from '../../../test/support/eventually';
import { PoisonMessageError } from './consumer-rule';
import type { Consumer, IncomingMessage } from './kafka.port';
import { KafkaJsClient } from './kafkajs.client';

function setup() {
  const prefix = testTopicPrefix();
  const sut = new KafkaJsClient({ brokers: kafkaBrokers(), clientId: `plumbing-${prefix}` });
  return { sut, prefix, topic: `${prefix}plumbing`, dlq: `${prefix}plumbing.dlq` };
}

describe('KafkaJsClient against a real broker', () => {
  const consumers: Consumer[] = [];
  const clients: KafkaJsClient[] = [];

  afterAll(async () => {
    for (const c of consumers) await c.stop();
    for (const c of clients) await c.disconnect();
  });

  async function started(
    sut: KafkaJsClient,
    groupId: string,
    topic: string,
    dlq: string,
    handle: (m: IncomingMessage) => Promise<void>,
  ) {
    const consumer = sut.createConsumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      deadLetterTopic: dlq,
      handle,
      retry: { initialMs: 50, maxMs: 200 },
    });
    consumers.push(consumer);
    await consumer.start();
    return consumer;
  }

  it('creates topics idempotently with the requested partition count', async () => {
    const { sut, topic } = setup();
    clients.push(sut);
    await sut.ensureTopics([topic], 3);
    await sut.ensureTopics([topic], 3);
    expect(await sut.ping()).toBe(true);
  });

  it('delivers a produced message with its key and headers', async () => {
    const { sut, topic, dlq } = setup();
    clients.push(sut);
    await sut.ensureTopics([topic, dlq], 3);
    const producer = await sut.createProducer();
    await producer.send([
      { topic, key: 'ord_1', value: '{"hello":"world"}', headers: { 'event-type': 'order.created' } },
    ]);
    await producer.disconnect();
    const seen: IncomingMessage[] = [];
    await started(sut, `g-${randomUUID()}`, topic, dlq, async (m) => {
      seen.push(m);
    });
    await eventually(() => expect(seen).toHaveLength(1), { timeoutMs: 30_000 });
    expect(seen[0]).toMatchObject({ topic, key: 'ord_1', headers: { 'event-type': 'order.created' } });
    expect(seen[0].value?.toString()).toBe('{"hello":"world"}');
  });

  it('does not commit when the handler throws, and hands the same message again', async () => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    await producer.send([
      { topic, key: 'k', value: 'first' },
      { topic, key: 'k', value: 'second' },
    ]);
    await producer.disconnect();
    const groupId = `g-${randomUUID()}`;
    const seen: string[] = [];
    let failuresLeft = 2;
    const consumer = await started(sut, groupId, topic, dlq, async (m) => {
      const value = m.value?.toString() ?? '';
      seen.push(value);
      if (value === 'first' && failuresLeft-- > 0) throw new Error('transient failure');
    });
    await eventually(() => expect(seen).toEqual(['first', 'first', 'first', 'second']), {
      timeoutMs: 30_000,
    });

    // The committed offset is what a restarted member resumes from: both messages, nothing skipped.
    await consumer.stop();
    consumers.splice(consumers.indexOf(consumer), 1);
    const admin = await import('kafkajs').then(({ Kafka }) => new Kafka({ brokers: kafkaBrokers() }).admin());
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(offsets[0].partitions[0].offset).toBe('2');
  });

  it('a member that stops while its handler keeps failing commits nothing, so the next member sees the message', async () => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    await producer.send([{ topic, key: 'k', value: 'stubborn' }]);
    await producer.disconnect();
    const groupId = `g-${randomUUID()}`;
    let attempts = 0;
    const failing = await started(sut, groupId, topic, dlq, () => {
      attempts++;
      return Promise.reject(new Error('always fails'));
    });
    await eventually(() => expect(attempts).toBeGreaterThanOrEqual(2), { timeoutMs: 30_000 });
    await failing.stop();
    consumers.splice(consumers.indexOf(failing), 1);

    const seen: string[] = [];
    await started(sut, groupId, topic, dlq, async (m) => {
      seen.push(m.value?.toString() ?? '');
    });
    await eventually(() => expect(seen).toEqual(['stubborn']), { timeoutMs: 30_000 });
  });

  it('dead-letters a poison message and moves on', async () => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    await producer.send([
      { topic, key: 'k', value: 'poison' },
      { topic, key: 'k', value: 'fine' },
    ]);
    await producer.disconnect();
    const handled: string[] = [];
    await started(sut, `g-${randomUUID()}`, topic, dlq, async (m) => {
      const value = m.value?.toString() ?? '';
      if (value === 'poison') throw new PoisonMessageError('cannot decode');
      handled.push(value);
    });
    const dead: IncomingMessage[] = [];
    await started(sut, `dlq-${randomUUID()}`, dlq, `${dlq}.unused`, async (m) => {
      dead.push(m);
    });
    await eventually(
      () => {
        expect(handled).toEqual(['fine']);
        expect(dead).toHaveLength(1);
      },
      { timeoutMs: 30_000 },
    );
    expect(dead[0].value?.toString()).toBe('poison');
    expect(dead[0].headers).toMatchObject({ 'dlq-reason': 'cannot decode', 'dlq-source-topic': topic });
  });

  it("hands a partition's messages to handleBatch in order and commits them together", async () => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    await producer.send(Array.from({ length: 20 }, (_, i) => ({ topic, key: 'k', value: `m${i}` })));
    await producer.disconnect();
    const batches: string[][] = [];
    const groupId = `g-${randomUUID()}`;
    const consumer = sut.createConsumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      deadLetterTopic: dlq,
      handle: () => Promise.reject(new Error('the batch path must be used')),
      handleBatch: async (ms) => {
        batches.push(ms.map((m) => m.value?.toString() ?? ''));
      },
    });
    consumers.push(consumer);
    await consumer.start();
    await eventually(() => expect(batches.flat()).toHaveLength(20), { timeoutMs: 30_000 });
    expect(batches.flat()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await consumer.stop();
    // Committed: a new member of the same group gets nothing again.
    const again: string[] = [];
    await started(sut, groupId, topic, dlq, async (m) => {
      again.push(m.value?.toString() ?? '');
    });
    const producer2 = await sut.createProducer();
    await producer2.send([{ topic, key: 'k', value: 'after' }]);
    await producer2.disconnect();
    await eventually(() => expect(again).toEqual(['after']), { timeoutMs: 30_000 });
  });

  it('falls back to one message at a time when the batch handler throws: poison isolated, the rest handled', async () => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    await producer.send(['a', 'poison', 'b'].map((value) => ({ topic, key: 'k', value })));
    await producer.disconnect();
    const handled: string[] = [];
    const consumer = sut.createConsumer({
      groupId: `g-${randomUUID()}`,
      topics: [topic],
      fromBeginning: true,
      deadLetterTopic: dlq,
      handle: async (m) => {
        const value = m.value?.toString() ?? '';
        if (value === 'poison') throw new PoisonMessageError('cannot decode');
        handled.push(value);
      },
      handleBatch: async (ms) => {
        if (ms.some((m) => m.value?.toString() === 'poison')) throw new PoisonMessageError('cannot decode');
        handled.push(...ms.map((m) => m.value?.toString() ?? ''));
      },
    });
    consumers.push(consumer);
    await consumer.start();
    const dead: IncomingMessage[] = [];
    await started(sut, `dlq-${randomUUID()}`, dlq, `${dlq}.unused`, async (m) => {
      dead.push(m);
    });
    await eventually(
      () => {
        expect(handled).toEqual(['a', 'b']);
        expect(dead.map((m) => m.value?.toString())).toEqual(['poison']);
      },
      { timeoutMs: 30_000 },
    );
  });

  it.each([
    ['by the timer, while running', 100],
    ['on stop, when the timer never fired', 600_000],
  ])('with commitIntervalMs commits handled offsets %s', async (_, commitIntervalMs) => {
    const { sut, topic, dlq, prefix } = setup();
    clients.push(sut);
    await ensureTestTopics(prefix, [topic, dlq], 1);
    const producer = await sut.createProducer();
    const groupId = `g-${randomUUID()}`;
    const handled: string[] = [];
    const consumer = sut.createConsumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      deadLetterTopic: dlq,
      commitIntervalMs,
      handle: async (m) => {
        handled.push(m.value?.toString() ?? '');
      },
    });
    consumers.push(consumer);
    await consumer.start();
    // Produced once the consumer has joined, so timer ticks with nothing to commit come first: such a tick
    // once left the commit loop stuck (its promise was cleared before it was stored), and nothing was
    // committed again.
    await eventually(() => expect(consumer.connected).toBe(true), { timeoutMs: 30_000 });
    await producer.send(['a', 'b', 'c'].map((value) => ({ topic, key: 'k', value })));
    await eventually(() => expect(handled).toEqual(['a', 'b', 'c']), { timeoutMs: 30_000 });
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const committed = async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset;
    try {
      if (commitIntervalMs < 1_000) await eventually(async () => expect(await committed()).toBe('3'));
      else expect(await committed()).toBe('-1');
      await consumer.stop();
      expect(await committed()).toBe('3');
    } finally {
      await admin.disconnect();
      await producer.disconnect();
    }
  });
});

describe('a producer whose broker is gone', () => {
  it('fails pack() to its caller and leaves no unhandled rejection behind (which would end the process)', async () => {
    const broker = await startDedicatedKafka();
    const sut = new KafkaJsClient({ brokers: broker.brokers, clientId: 'pack-outage-int-spec' });
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const producer = await sut.createProducer();
      await broker.kill();
      // A topic this producer has not sent to yet: its limits and the broker's are read now, and both fail.
      await expect(
        producer.pack([{ topic: 'never.sent.to', key: 'k', value: '{}', headers: {} }]),
      ).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(unhandled).toEqual([]);
      await producer.disconnect().catch(() => undefined);
    } finally {
      process.off('unhandledRejection', record);
      await sut.disconnect();
      await broker.dispose();
    }
  }, 120_000);
});
