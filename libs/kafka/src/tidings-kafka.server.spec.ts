import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import {
  buildUntypedEvent,
  CATALOGUE,
  type EventEnvelope,
  type EventEnvelopeOf,
  toKafkaMessage,
} from '@tidings/events';
import { throwError } from 'rxjs';
import { eventually } from '../../../test/support/eventually';
import { PoisonMessageError } from './consumer-rule';
import { InMemoryKafka } from './in-memory.kafka';
import {
  TidingsEvent,
  TidingsKafkaBatchContext,
  TidingsKafkaContext,
  TidingsKafkaServer,
} from './tidings-kafka.server';

const TOPIC = 'events.order';
const DLQ = 'consumer.dead-letter';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const example = (type: string, version?: number) => {
  const versions = CATALOGUE.find((d) => d.type === type)!.versions;
  return (version === undefined ? versions.at(-1)! : versions[version - 1]).example;
};

let position = 0;
/** A published record of `type` for resource `resourceId` (latest version, next position). */
function record(type: string, resourceId: string, sequence: number) {
  const event = buildUntypedEvent({
    eventType: type,
    tenantId: 'ten_1',
    resourceId,
    sequence,
    source: 'tidings/api',
    data: example(type),
  });
  return toKafkaMessage({ ...event, position: ++position }, { traceparent: TRACEPARENT });
}

/** What the handlers of a test saw, and how they should fail. */
class Probe {
  seen: { handler: string; event: EventEnvelope; partition?: number; offset?: string; trace?: string }[] = [];
  batches: string[][] = [];
  /** Every resource a handler was called for, failed calls included. */
  attempts: string[] = [];
  failures = new Map<string, number>();
  poison = new Set<string>();

  fail(resourceId: string, times: number): void {
    this.failures.set(resourceId, times);
  }
  check(event: EventEnvelope): void {
    this.attempts.push(event.resourceId);
    if (this.poison.has(event.resourceId))
      throw new PoisonMessageError(`no such warehouse for ${event.resourceId}`);
    const left = this.failures.get(event.resourceId) ?? 0;
    if (left > 0) {
      this.failures.set(event.resourceId, left - 1);
      throw new Error('database unavailable');
    }
  }
  handlers(name: string): string[] {
    return this.seen.filter((s) => s.handler === name).map((s) => s.event.resourceId);
  }
}

async function setup(controller: new (probe: Probe) => object) {
  const kafka = new InMemoryKafka(1);
  await kafka.ensureTopics([TOPIC, DLQ], 1);
  const producer = await kafka.createProducer();
  const probe = new Probe();
  @Module({ controllers: [controller], providers: [{ provide: Probe, useValue: probe }] })
  class TestModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
  const server = new TidingsKafkaServer({
    kafka,
    groupId: 'warehouse',
    topics: [TOPIC],
    fromBeginning: true,
    deadLetterTopic: DLQ,
    // Compressed through config: the rule is the port's, its default backoff starts at 200 ms.
    retry: { initialMs: 1, maxMs: 5 },
  });
  const app: INestMicroservice = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  const send = (...records: ReturnType<typeof record>[]) => producer.send(records);
  const committed = () => kafka.committedOffset('warehouse', TOPIC, 0) ?? 0;
  return { sut: server, app, kafka, probe, send, committed };
}

@Controller()
class OrdersController {
  constructor(private readonly probe: Probe) {}

  @TidingsEvent('order.created', { version: 1 })
  created(@Payload() event: EventEnvelopeOf<'order.created', 1>, @Ctx() ctx: TidingsKafkaContext) {
    this.probe.check(event as EventEnvelope);
    this.probe.seen.push({
      handler: 'created@v1',
      event: event as EventEnvelope,
      partition: ctx.getPartition(),
      offset: ctx.getOffset(),
      trace: ctx.getTraceparent(),
    });
  }

  @TidingsEvent('order.*')
  async anyOrder(@Payload() event: EventEnvelope) {
    await Promise.resolve();
    this.probe.check(event);
    this.probe.seen.push({ handler: 'order.*', event });
  }

  @TidingsEvent('*')
  everything(@Payload() event: EventEnvelope) {
    this.probe.seen.push({ handler: '*', event });
  }
}

describe('TidingsKafkaServer', () => {
  it('hands each matching handler the validated event, at the version it asked for, with its record', async () => {
    const { app, send, probe, committed } = await setup(OrdersController);
    await app.listen();
    await send(record('order.created', 'ord_1', 1), record('order.shipped', 'ord_1', 2));
    await eventually(() => expect(committed()).toBe(2));
    await app.close();

    const v1 = probe.seen.find((s) => s.handler === 'created@v1')!;
    expect(v1.event.version).toBe(1);
    expect(v1.event.data).toEqual(expect.objectContaining({ total: expect.any(Number) }));
    expect({ partition: v1.partition, offset: v1.offset, trace: v1.trace }).toEqual({
      partition: 0,
      offset: '0',
      trace: TRACEPARENT,
    });
    expect(
      probe.seen.filter((s) => s.handler === 'order.*').map((s) => [s.event.eventType, s.event.version]),
    ).toEqual([
      ['order.created', 2],
      ['order.shipped', 1],
    ]);
    expect(probe.handlers('*')).toEqual(['ord_1', 'ord_1']);
  });

  it('commits nothing while a handler fails and hands the same record again, later records waiting', async () => {
    const { app, send, probe, committed } = await setup(OrdersController);
    probe.fail('ord_1', 3);
    await app.listen();
    await send(record('order.shipped', 'ord_1', 1), record('order.shipped', 'ord_2', 1));
    await eventually(() => expect(committed()).toBe(2));
    await app.close();
    // Three failures of ord_1 before it succeeded, and ord_2 only after it: the partition's order held.
    expect(probe.handlers('order.*')).toEqual(['ord_1', 'ord_2']);
    expect(probe.attempts).toEqual(['ord_1', 'ord_1', 'ord_1', 'ord_1', 'ord_2']);
    expect(probe.handlers('*')).toEqual(['ord_1', 'ord_2']);
  });

  it("dead-letters a handler's PoisonMessageError and an undecodable record, then commits and goes on", async () => {
    const { app, send, probe, committed, kafka } = await setup(OrdersController);
    probe.poison.add('ord_bad');
    await app.listen();
    await send(
      record('order.shipped', 'ord_bad', 1),
      { topic: TOPIC, key: 'ord_x', value: 'not json', headers: {} },
      record('order.shipped', 'ord_ok', 1),
    );
    await eventually(() => expect(committed()).toBe(3));
    await app.close();
    const dead = kafka.messages(DLQ);
    expect(dead.map((m) => [m.key, m.headers['dlq-reason']])).toEqual([
      ['ord_bad', 'no such warehouse for ord_bad'],
      ['ord_x', 'envelope is not valid JSON'],
    ]);
    expect(probe.handlers('order.*')).toEqual(['ord_ok']);
  });

  it('commits records that no handler matches without calling any', async () => {
    @Controller()
    class ShippedOnly {
      constructor(private readonly probe: Probe) {}
      @TidingsEvent('order.shipped')
      shipped(@Payload() event: EventEnvelopeOf<'order.shipped'>) {
        this.probe.seen.push({ handler: 'shipped', event: event as EventEnvelope });
      }
    }
    const { app, send, probe, committed } = await setup(ShippedOnly);
    await app.listen();
    await send(record('order.created', 'ord_1', 1), record('order.shipped', 'ord_1', 2));
    await eventually(() => expect(committed()).toBe(2));
    await app.close();
    expect(probe.seen.map((s) => s.event.eventType)).toEqual(['order.shipped']);
  });

  it('retries a handler whose Observable errors instead of committing', async () => {
    let failures = 2;
    @Controller()
    class ObservableHandler {
      constructor(private readonly probe: Probe) {}
      @EventPattern('order.shipped')
      shipped(@Payload() event: EventEnvelope) {
        if (failures-- > 0) return throwError(() => new Error('downstream refused'));
        this.probe.seen.push({ handler: 'shipped', event });
        return undefined;
      }
    }
    const { app, send, probe, committed } = await setup(ObservableHandler);
    await app.listen();
    await send(record('order.shipped', 'ord_1', 1));
    await eventually(() => expect(committed()).toBe(1));
    await app.close();
    expect(failures).toBe(-1);
    expect(probe.handlers('shipped')).toEqual(['ord_1']);
  });

  it("retries, never dead-letters, what a plain @EventPattern handler throws (Nest's filter hides its type)", async () => {
    let failures = 2;
    @Controller()
    class PlainHandler {
      constructor(private readonly probe: Probe) {}
      @EventPattern('order.shipped')
      shipped(@Payload() event: EventEnvelope) {
        if (failures-- > 0)
          throw new PoisonMessageError('looks poison, reaches the transport as { status: error }');
        this.probe.seen.push({ handler: 'shipped', event });
      }
    }
    const { app, send, probe, committed, kafka } = await setup(PlainHandler);
    await app.listen();
    await send(record('order.shipped', 'ord_1', 1));
    await eventually(() => expect(committed()).toBe(1));
    await app.close();
    expect(probe.handlers('shipped')).toEqual(['ord_1']);
    expect(kafka.messages(DLQ)).toEqual([]);
  });

  it('hands a batch handler the run, and a failed run record by record so a poison record is isolated', async () => {
    @Controller()
    class Batched {
      constructor(private readonly probe: Probe) {}
      @TidingsEvent('order.*', { batch: true })
      orders(@Payload() events: EventEnvelope[], @Ctx() ctx: TidingsKafkaBatchContext) {
        this.probe.batches.push(events.map((e) => e.resourceId));
        for (const e of events) this.probe.check(e);
        expect(ctx.getMessages().map((m) => m.headers['event-id'])).toEqual(events.map((e) => e.eventId));
        for (const e of events) this.probe.seen.push({ handler: 'batch', event: e });
      }
    }
    const { app, send, probe, committed, kafka } = await setup(Batched);
    await send(record('order.shipped', 'ord_1', 1), record('order.shipped', 'ord_2', 1));
    await app.listen();
    await eventually(() => expect(committed()).toBe(2));
    probe.poison.add('ord_bad');
    await send(
      record('order.shipped', 'ord_3', 1),
      record('order.shipped', 'ord_bad', 1),
      record('order.shipped', 'ord_4', 1),
    );
    await eventually(() => expect(committed()).toBe(5));
    await app.close();
    // The failed run went record by record (the in-memory port retries the rest as a run after each record).
    expect(probe.batches.slice(0, 2)).toEqual([
      ['ord_1', 'ord_2'],
      ['ord_3', 'ord_bad', 'ord_4'],
    ]);
    expect(probe.batches).toContainEqual(['ord_bad']);
    expect(probe.handlers('batch')).toEqual(['ord_1', 'ord_2', 'ord_3', 'ord_4']);
    expect(kafka.messages(DLQ).map((m) => m.key)).toEqual(['ord_bad']);
  });

  it("can be closed before Nest closes it, and Nest's later close waits for the same stop", async () => {
    const { sut, app, send, probe, committed } = await setup(OrdersController);
    await app.listen();
    await send(record('order.shipped', 'ord_1', 1));
    await eventually(() => expect(committed()).toBe(1));
    const first = sut.close();
    expect(sut.close()).toBe(first);
    await first;
    expect(sut.connected).toBe(false);
    await send(record('order.shipped', 'ord_2', 1));
    await app.close();
    expect(probe.handlers('order.*')).toEqual(['ord_1']);
    expect(committed()).toBe(1);
  });

  it('refuses to listen with a request-response handler', async () => {
    @Controller()
    class Replying {
      @MessagePattern('order.shipped')
      reply() {
        return 'ok';
      }
    }
    const { app } = await setup(Replying);
    await expect(app.listen()).rejects.toThrow("@MessagePattern('order.shipped')");
    await app.close();
  });

  it.each([
    ['a pattern that matches no event type', 'parcel.*', {}],
    ['a version the type does not have', 'order.shipped', { version: 2 }],
    ['a version on a wildcard', 'order.*', { version: 1 }],
  ])('refuses to listen with %s', async (_name, pattern, options) => {
    @Controller()
    class Wrong {
      @TidingsEvent(pattern, options)
      handle() {}
    }
    const { app } = await setup(Wrong);
    await expect(app.listen()).rejects.toThrow(`@EventPattern('${pattern}'`);
    await app.close();
  });
});
