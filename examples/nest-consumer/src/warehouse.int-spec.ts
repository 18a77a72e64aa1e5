import type { INestMicroservice } from '@nestjs/common';
import { EventLogEntity, envelopeFromLogRow } from '@tidings/db';
import { topicFor, toKafkaMessage } from '@tidings/events';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { eventually } from '../../../test/support/eventually';
import { kafkaBrokers } from '../../../test/support/infra';
import { startPipeline, type Pipeline } from '../../../test/support/pipeline';
import { createTenant, type TestTenant } from '../../../test/support/tenant';
import type { TestApi } from '../../../test/support/api-app';
import { startWarehouse } from './warehouse.module';

/**
 * The example service against the real thing: orders changed through the api, published by the relay to the
 * shared broker, consumed by the warehouse on the Tidings transport — across a restart of the warehouse, a
 * relay-style republish of an event it already applied, and a poison record in the middle of a partition.
 */
describe('examples/nest-consumer: the warehouse', () => {
  let p: Pipeline;
  let api: TestApi;
  let tenant: TestTenant;
  let warehouse: INestMicroservice | undefined;
  const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();

  beforeAll(async () => {
    p = await startPipeline();
    api = await p.startApi();
    await p.startRelay();
    tenant = await createTenant(p.ds);
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    await warehouse?.close();
    await producer.disconnect();
    await p.teardown();
  });

  const start = () =>
    startWarehouse({
      databaseUrl: p.databaseUrl,
      kafkaBrokers: kafkaBrokers(),
      topicPrefix: p.prefix,
      groupId: `${p.prefix}warehouse`,
    });

  async function call(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
    const res = await api.call('POST', path, tenant.apiKey, body);
    expect(res.status).toBeLessThan(300);
    return res.body;
  }

  /** Every order event the warehouse applied, in the order it applied them. */
  async function applied(): Promise<{ event_id: string; order_id: string; sequence: number }[]> {
    return p.ds.query('SELECT event_id, order_id, sequence FROM warehouse_order_events ORDER BY applied_at');
  }

  it('applies every order event once, in per-order order, across a restart, a republish and a poison record', async () => {
    warehouse = await start();
    const orders: string[] = [];
    for (let i = 0; i < 3; i++) {
      const order = await call('/orders', {
        customerId: `cus_${i}`,
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceMinor: 1000 }],
      });
      orders.push(order.id as string);
      await call(`/orders/${order.id as string}/pay`, { paymentReference: `pi_${i}` });
      await call(`/orders/${order.id as string}/ship`, { carrier: 'DHL', trackingNumber: `JD${i}` });
    }
    await eventually(async () => expect(await applied()).toHaveLength(9), { timeoutMs: 60_000 });

    await warehouse.close();
    warehouse = undefined;
    // While it is away: a copy of an event it already applied (what a relay crash after publishing does) and a
    // record that is no Tidings event, both on the first order's partition, then that order moves on.
    const [first] = await p.ds
      .getRepository(EventLogEntity)
      .find({ where: { resourceId: orders[0], sequence: 2 } });
    const copy = toKafkaMessage(envelopeFromLogRow(first), { topicPrefix: p.prefix });
    const poison = `not an event ${randomUUID()}`;
    await producer.send({
      topic: topicFor('order', p.prefix),
      messages: [
        { key: copy.key, value: copy.value, headers: copy.headers },
        { key: orders[0], value: poison },
      ],
    });
    for (const id of orders) await call(`/orders/${id}/deliver`);

    warehouse = await start();
    await eventually(async () => expect((await applied()).filter((r) => r.sequence === 4)).toHaveLength(3), {
      timeoutMs: 60_000,
    });

    const rows = await applied();
    const logged: { event_id: string }[] = await p.ds.query(
      `SELECT event_id FROM event_log WHERE tenant_id = $1 AND resource_type = 'order'`,
      [tenant.tenantId],
    );
    expect(rows.map((r) => r.event_id).sort()).toEqual(logged.map((r) => r.event_id).sort());
    for (const id of orders)
      expect(rows.filter((r) => r.order_id === id).map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
    const pickups: { order_id: string; tracking_number: string }[] = await p.ds.query(
      'SELECT order_id, tracking_number FROM warehouse_pickups ORDER BY tracking_number',
    );
    expect(pickups).toEqual(orders.map((id, i) => ({ order_id: id, tracking_number: `JD${i}` })));
    expect(await deadLettered(`${p.prefix}warehouse.dead-letter`, 1)).toEqual([
      { value: poison, reason: 'envelope is not valid JSON' },
    ]);
  }, 240_000);

  async function deadLettered(topic: string, count: number): Promise<{ value: string; reason: string }[]> {
    const reader = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
    const seen: { value: string; reason: string }[] = [];
    await reader.connect();
    try {
      await reader.subscribe({ topics: [topic], fromBeginning: true });
      await reader.run({
        eachMessage: async ({ message }) => {
          seen.push({
            value: message.value?.toString() ?? '',
            reason: message.headers?.['dlq-reason']?.toString() ?? '',
          });
        },
      });
      await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(count), { timeoutMs: 30_000 });
      return seen;
    } finally {
      await reader.disconnect();
    }
  }
});
