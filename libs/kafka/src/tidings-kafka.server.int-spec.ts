import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  buildUntypedEvent,
  exampleData,
  type EventEnvelope,
  toKafkaMessage,
  topicFor,
} from '@tidings/events';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { eventually } from '../../../test/support/eventually';
import { ensureTestTopics, kafkaBrokers, testTopicPrefix } from '../../../test/support/infra';
import { KafkaJsClient } from './kafkajs.client';
import { TidingsEvent, type TidingsKafkaBatchContext, TidingsKafkaServer } from './tidings-kafka.server';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const seen: { event: EventEnvelope; partition: number; trace?: string }[] = [];

@Controller()
class BatchController {
  @TidingsEvent('order.*', { batch: true })
  orders(@Payload() events: EventEnvelope[], @Ctx() ctx: TidingsKafkaBatchContext) {
    for (const event of events)
      seen.push({
        event,
        partition: ctx.getPartition(),
        trace: ctx.messageOf(event.eventId)?.headers.traceparent,
      });
  }
}

@Module({ controllers: [BatchController] })
class BatchModule {}

/** The transport on kafkajs and the real broker: fetched runs to a batch handler, a poison record isolated. */
describe('TidingsKafkaServer against a real broker', () => {
  it('hands a batch handler every event of its runs, in per-resource order, and dead-letters a poison record', async () => {
    const prefix = testTopicPrefix();
    const topic = topicFor('order', prefix);
    const dlq = `${prefix}batch.dead-letter`;
    await ensureTestTopics(prefix, [topic, dlq], 3);
    const events = Array.from({ length: 12 }, (_, i) => ({
      ...buildUntypedEvent({
        eventType: 'order.updated',
        data: exampleData('order.updated'),
        tenantId: 'ten_1',
        resourceId: `ord_${i % 3}`,
        sequence: Math.floor(i / 3) + 1,
        source: 'tidings/api',
      }),
      position: i + 1,
    }));
    const poison = `poison-${randomUUID()}`;
    const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const records = events.map((e) => toKafkaMessage(e, { topicPrefix: prefix, traceparent: TRACEPARENT }));
    await producer.send({
      topic,
      messages: [...records.slice(0, 6), { key: 'ord_1', value: poison }, ...records.slice(6)].map((r) => ({
        key: r.key,
        value: r.value,
        headers: 'headers' in r ? r.headers : {},
      })),
    });
    await producer.disconnect();

    const client = new KafkaJsClient({ brokers: kafkaBrokers(), clientId: `transport-${prefix}` });
    const app = await NestFactory.createMicroservice(BatchModule, {
      strategy: new TidingsKafkaServer({
        kafka: client,
        groupId: `${prefix}batch`,
        topics: [topic],
        fromBeginning: true,
        deadLetterTopic: dlq,
        retry: { initialMs: 50, maxMs: 200 },
      }),
      logger: false,
    });
    await app.listen();
    const dead: string[] = [];
    const reader = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
    try {
      await eventually(() => expect(new Set(seen.map((s) => s.event.eventId)).size).toBe(12), {
        timeoutMs: 60_000,
      });
      await reader.connect();
      await reader.subscribe({ topics: [dlq], fromBeginning: true });
      await reader.run({
        eachMessage: async ({ message }) => {
          dead.push(message.value?.toString() ?? '');
        },
      });
      // At least once, like every commit rule: a rebalance of the new group between the dead-letter send and
      // the commit hands the run over again, and the same record is dead-lettered twice (seen once in CI).
      await eventually(() => expect([...new Set(dead)]).toEqual([poison]), { timeoutMs: 30_000 });
    } finally {
      await reader.disconnect();
      await app.close();
      await client.disconnect();
    }
    // Each resource's events first arrive in sequence order (at least once: a repeat keeps its place).
    for (const r of ['ord_0', 'ord_1', 'ord_2']) {
      const sequences = seen.filter((s) => s.event.resourceId === r).map((s) => s.event.sequence);
      expect([...new Set(sequences)]).toEqual([1, 2, 3, 4]);
    }
    expect(new Set(seen.map((s) => s.trace))).toEqual(new Set([TRACEPARENT]));
  }, 120_000);
});
