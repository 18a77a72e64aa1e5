import { InMemoryKafka } from './in-memory.kafka';
import { PoisonMessageError } from './consumer-rule';
import type { IncomingMessage } from './kafka.port';

function setup() {
  const kafka = new InMemoryKafka(1);
  const seen: IncomingMessage[] = [];
  return { kafka, seen };
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('InMemoryKafka consumer rule', () => {
  it('commits after the handler succeeds', async () => {
    const { kafka, seen } = setup();
    await kafka.ensureTopics(['t'], 1);
    const producer = await kafka.createProducer();
    await producer.send([{ topic: 't', key: 'a', value: 'one', headers: { h: '1' } }]);
    const consumer = kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 'dlq',
      handle: async (m) => {
        seen.push(m);
      },
    });
    await consumer.start();
    await waitFor(() => kafka.committedOffset('g', 't', 0) === 1);
    await consumer.stop();
    expect(seen.map((m) => [m.key, m.value?.toString(), m.headers.h])).toEqual([['a', 'one', '1']]);
  });

  it('does not commit when the handler throws and hands the same message again', async () => {
    const { kafka, seen } = setup();
    await kafka.ensureTopics(['t'], 1);
    const producer = await kafka.createProducer();
    await producer.send([
      { topic: 't', key: 'a', value: 'first' },
      { topic: 't', key: 'a', value: 'second' },
    ]);
    let failures = 2;
    const commitsWhileFailing: (number | undefined)[] = [];
    const consumer = kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 'dlq',
      retry: { initialMs: 1, maxMs: 2 },
      handle: async (m) => {
        seen.push(m);
        if (m.value?.toString() === 'first' && failures-- > 0) {
          commitsWhileFailing.push(kafka.committedOffset('g', 't', 0));
          throw new Error('database unavailable');
        }
      },
    });
    await consumer.start();
    await waitFor(() => kafka.committedOffset('g', 't', 0) === 2);
    await consumer.stop();
    expect(commitsWhileFailing).toEqual([undefined, undefined]);
    expect(seen.map((m) => m.value?.toString())).toEqual(['first', 'first', 'first', 'second']);
  });

  it('dead-letters a poison message with its origin, then commits it', async () => {
    const { kafka } = setup();
    await kafka.ensureTopics(['t', 'dlq'], 1);
    const producer = await kafka.createProducer();
    await producer.send([{ topic: 't', key: 'k', value: 'garbage' }]);
    const consumer = kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 'dlq',
      handle: () => Promise.reject(new PoisonMessageError('not an envelope')),
    });
    await consumer.start();
    await waitFor(() => kafka.committedOffset('g', 't', 0) === 1);
    await consumer.stop();
    const [dead] = kafka.messages('dlq');
    expect(dead.value?.toString()).toBe('garbage');
    expect(dead.key).toBe('k');
    expect(dead.headers).toMatchObject({
      'dlq-reason': 'not an envelope',
      'dlq-source-topic': 't',
      'dlq-source-offset': '0',
    });
  });

  it('keeps per-key order on one partition', async () => {
    const kafka = new InMemoryKafka(4);
    await kafka.ensureTopics(['t'], 4);
    const producer = await kafka.createProducer();
    await producer.send(
      Array.from({ length: 20 }, (_, i) => ({ topic: 't', key: `k${i % 3}`, value: String(i) })),
    );
    for (const key of ['k0', 'k1', 'k2']) {
      const mine = kafka.messages('t').filter((m) => m.key === key);
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
      const values = mine.map((m) => Number(m.value?.toString()));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
  });

  it('fails sends while down', async () => {
    const kafka = new InMemoryKafka();
    const producer = await kafka.createProducer();
    kafka.setDown(true);
    await expect(producer.send([{ topic: 't', key: 'k', value: 'v' }])).rejects.toThrow('down');
    expect(await kafka.ping()).toBe(false);
  });

  it('hands consecutive messages to handleBatch and commits them together', async () => {
    const { kafka } = setup();
    await kafka.ensureTopics(['t'], 1);
    const producer = await kafka.createProducer();
    await producer.send(['1', '2', '3'].map((value) => ({ topic: 't', key: 'a', value })));
    const batches: string[][] = [];
    const consumer = kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 'dlq',
      handle: () => Promise.reject(new Error('the batch path must be used')),
      handleBatch: async (ms) => {
        batches.push(ms.map((m) => m.value?.toString() ?? ''));
      },
    });
    await consumer.start();
    await waitFor(() => kafka.committedOffset('g', 't', 0) === 3);
    await consumer.stop();
    expect(batches).toEqual([['1', '2', '3']]);
  });

  it('falls back to one message at a time when the batch handler throws', async () => {
    const { kafka } = setup();
    await kafka.ensureTopics(['t', 'dlq'], 1);
    const producer = await kafka.createProducer();
    await producer.send(['a', 'poison', 'b'].map((value) => ({ topic: 't', key: 'k', value })));
    const handled: string[] = [];
    const consumer = kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 'dlq',
      handle: async (m) => {
        if (m.value?.toString() === 'poison') throw new PoisonMessageError('cannot decode');
        handled.push(m.value?.toString() ?? '');
      },
      handleBatch: async (ms) => {
        if (ms.some((m) => m.value?.toString() === 'poison')) throw new PoisonMessageError('cannot decode');
        handled.push(...ms.map((m) => m.value?.toString() ?? ''));
      },
    });
    await consumer.start();
    await waitFor(() => kafka.committedOffset('g', 't', 0) === 3);
    await consumer.stop();
    expect(handled).toEqual(['a', 'b']);
    expect(kafka.messages('dlq').map((m) => m.value?.toString())).toEqual(['poison']);
  });
});
