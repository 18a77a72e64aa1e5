import { InMemoryKafka } from '@tidings/kafka';
import { Registry } from 'prom-client';
import { lagOf, watchConsumerLag } from './consumer-lag';

function setup() {
  const registry = new Registry();
  const kafka = watchConsumerLag(registry, new InMemoryKafka(2));
  const handled: string[] = [];
  let failing = false;
  const lag = async () =>
    Object.fromEntries(
      (
        (await registry.getMetricsAsJSON()).find((m) => m.name === 'tidings_kafka_consumer_lag')?.values ?? []
      ).map((v) => [`${v.labels.group} ${v.labels.topic}/${v.labels.partition}`, v.value]),
    );
  const consumer = () =>
    kafka.createConsumer({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      deadLetterTopic: 't.dlq',
      retry: { initialMs: 5, maxMs: 5 },
      handle: (m) => {
        if (failing) return Promise.reject(new Error('handler down'));
        handled.push(String(m.key));
        return Promise.resolve();
      },
    });
  const send = (...keys: string[]) =>
    kafka.append(keys.map((key) => ({ topic: 't', key, value: '{}', headers: {} })));
  return { sut: lag, kafka, consumer, send, handled, fail: (f: boolean) => (failing = f) };
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('consumer lag', () => {
  it('reports nothing for an app that creates no consumer', async () => {
    const { sut } = setup();
    expect(await sut()).toEqual({});
  });

  it('counts what a stalled group has not committed, per partition, and 0 once it has caught up', async () => {
    const { sut, consumer, send, handled, fail, kafka } = setup();
    await kafka.ensureTopics(['t'], 2);
    fail(true);
    const c = consumer();
    await send('a', 'b', 'c', 'd');
    await c.start();
    const stalled = await sut();
    expect(Object.keys(stalled).sort()).toEqual(['g t/0', 'g t/1']);
    expect(Object.values(stalled).reduce((a, b) => a + b, 0)).toBe(4);

    fail(false);
    await until(async () => handled.length === 4);
    await until(async () => Object.values(await sut()).every((v) => v === 0));
    expect(Object.values(await sut())).toEqual([0, 0]);
    await c.stop();
  });

  it('reads a partition the group never committed on as all behind from the beginning, none from the end', () => {
    const offset = { topic: 't', partition: 0, committed: null, start: 3, end: 10 };
    expect(lagOf(offset, true)).toBe(7);
    expect(lagOf(offset, false)).toBe(0);
    expect(lagOf({ ...offset, committed: 8 }, false)).toBe(2);
  });
});
