/**
 * CPU cost of the Nest transport over the bare consumer port, in-process on the in-memory fake (no broker, no
 * database: only what the transport adds is measured). Each run consumes the same N published order events,
 * once through `handle` decoding them (what the dispatcher does) and once through TidingsKafkaServer to a Nest
 * handler, alternating, and prints CPU µs per event of each (process.cpuUsage over the consuming window).
 * Usage: ts-node -r tsconfig-paths/register scripts/bench-transport.ts [events=20000] [rounds=3]
 */
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { buildUntypedEvent, exampleData, fromKafkaMessage, toKafkaMessage, topicFor } from '@tidings/events';
import { InMemoryKafka, type KafkaClient, TidingsEvent, TidingsKafkaServer } from '@tidings/kafka';

const N = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const TOPIC = topicFor('order');
let handled = 0;

@Controller()
class Sink {
  @TidingsEvent('order.*')
  order(@Payload() _event: unknown) {
    handled++;
  }
}
@Module({ controllers: [Sink] })
class SinkModule {}

async function published(): Promise<InMemoryKafka> {
  const kafka = new InMemoryKafka(6);
  await kafka.ensureTopics([TOPIC, 'dlq'], 6);
  const producer = await kafka.createProducer();
  const records = Array.from({ length: N }, (_, i) => {
    const e = buildUntypedEvent({
      eventType: 'order.created',
      data: exampleData('order.created'),
      tenantId: 'ten_bench',
      resourceId: `ord_${i % 500}`,
      sequence: Math.floor(i / 500) + 1,
      source: 'tidings/api',
    });
    return toKafkaMessage({ ...e, position: i + 1 });
  });
  await producer.send(records);
  return kafka;
}

async function measure(consume: (kafka: KafkaClient) => Promise<() => Promise<void>>): Promise<number> {
  const kafka = await published();
  handled = 0;
  const before = process.cpuUsage();
  const stop = await consume(kafka);
  while (handled < N) await new Promise((r) => setImmediate(r));
  const used = process.cpuUsage(before);
  await stop();
  return (used.user + used.system) / N;
}

const options = (kafka: KafkaClient) => ({
  kafka,
  groupId: 'bench',
  topics: [TOPIC],
  fromBeginning: true,
  deadLetterTopic: 'dlq',
});

const port = () =>
  measure(async (kafka) => {
    const consumer = kafka.createConsumer({
      ...options(kafka),
      handle: async (m) => {
        fromKafkaMessage(m);
        handled++;
      },
    });
    await consumer.start();
    return () => consumer.stop();
  });

const transport = () =>
  measure(async (kafka) => {
    const app = await NestFactory.createMicroservice(SinkModule, {
      strategy: new TidingsKafkaServer(options(kafka)),
      logger: false,
    });
    await app.listen();
    return () => app.close();
  });

void (async () => {
  const rows: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const p = await port();
    const t = await transport();
    rows.push(
      `round ${r + 1}: port ${p.toFixed(1)} µs/event, transport ${t.toFixed(1)} µs/event (+${(t - p).toFixed(1)})`,
    );
  }
  console.log(rows.join('\n'));
})();
