import { buildEvent } from './envelope';
import { matchesEventType, isValidEventTypePattern } from './event-type-pattern';
import { allEventTopics, fromKafkaMessage, toKafkaMessage, topicFor } from './kafka-mapping';

function setup() {
  const event = {
    ...buildEvent({
      eventType: 'order.created',
      tenantId: 'ten_1',
      resourceId: 'ord_9',
      sequence: 1,
      source: 'tidings/api',
      data: {
        orderId: 'ord_9',
        customer: { id: 'c1' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceMinor: 250 }],
        totalMinor: 250,
        status: 'pending',
        notes: null,
        metadata: {},
      },
    }),
    position: 7,
  };
  return { event };
}

describe('Kafka mapping', () => {
  it('routes to events.<resourceType> keyed by resourceId with id/type/version and CloudEvents headers', () => {
    const { event } = setup();
    const record = toKafkaMessage(event, {
      topicPrefix: 'x.',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(record.topic).toBe('x.events.order');
    expect(record.key).toBe('ord_9');
    expect(record.headers).toEqual({
      'event-id': event.eventId,
      'event-type': 'order.created',
      'event-version': '2',
      'content-type': 'application/json',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      ce_specversion: '1.0',
      ce_id: event.eventId,
      ce_source: 'tidings/api',
      ce_type: 'order.created',
      ce_time: event.timestamp,
      ce_subject: 'ord_9',
    });
    expect(JSON.parse(record.value)).toEqual(event);
  });

  it('adds traceparent only when a valid one is given, and refuses unpositioned events', () => {
    const { event } = setup();
    expect(toKafkaMessage(event).headers.traceparent).toBeUndefined();
    expect(toKafkaMessage(event, { traceparent: 'garbage' }).headers.traceparent).toBeUndefined();
    expect(() => toKafkaMessage({ ...event, position: null })).toThrow('no position');
  });

  it('decodes, cross-checks headers and renders at a requested version', () => {
    const { event } = setup();
    const record = toKafkaMessage(event);
    const value = Buffer.from(record.value);
    expect(fromKafkaMessage({ value, headers: record.headers })).toEqual(event);
    expect(fromKafkaMessage({ value, headers: record.headers }, { version: 1 }).data).toMatchObject({
      customerId: 'c1',
      total: 2.5,
    });
    expect(() =>
      fromKafkaMessage({ value, headers: { ...record.headers, 'event-type': 'order.shipped' } }),
    ).toThrow('event-type header');
    expect(() => fromKafkaMessage({ value: null })).toThrow('tombstone');
    expect(() =>
      fromKafkaMessage({ value: Buffer.from(JSON.stringify({ ...event, position: null })) }),
    ).toThrow('no position');
    expect(() => fromKafkaMessage({ value }, { version: 5 })).toThrow('unknown version');
  });

  it('lists one topic per resource type', () => {
    expect(topicFor('order')).toBe('events.order');
    expect(allEventTopics('p.').sort()).toEqual([
      'p.events.api_key',
      'p.events.message',
      'p.events.order',
      'p.events.tenant',
      'p.events.webhook',
    ]);
  });
});

describe('event type patterns', () => {
  it.each([
    ['*', 'order.created', true],
    ['order.*', 'order.created', true],
    ['order.*', 'message.received', false],
    ['webhook.*', 'webhook.subscription.disabled', true],
    ['webhook.subscription.*', 'webhook.subscription.disabled', true],
    ['order.created', 'order.created', true],
    ['order.created', 'order.created_extra', false],
    ['order', 'order.created', false],
  ])('%s matches %s: %p', (pattern, type, expected) => {
    expect(matchesEventType(pattern, type)).toBe(expected);
  });

  it('accepts only well-formed patterns that match something in the catalogue', () => {
    expect(['*', 'order.*', 'order.created', 'webhook.subscription.*'].every(isValidEventTypePattern)).toBe(
      true,
    );
    expect(
      ['', 'order.', 'ORDER.*', 'order.*.*', 'nothing.*', 'order.teleported', '**'].some(
        isValidEventTypePattern,
      ),
    ).toBe(false);
  });
});
