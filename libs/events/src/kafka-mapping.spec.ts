import { EnvelopeDecodeError, buildEvent, type EventEnvelope } from './envelope';
import { exampleData, getEventType } from './catalogue';
import { allEventTopics, fromKafkaMessage, toKafkaMessage, topicFor } from './kafka-mapping';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function setup() {
  const event: EventEnvelope = {
    ...buildEvent({
      eventType: 'order.created',
      tenantId: 'ten_1',
      resourceId: 'ord_9',
      sequence: 1,
      source: 'tidings/api',
      data: { ...exampleData('order.created'), orderId: 'ord_9' },
    }),
    position: 7,
  };
  const record = toKafkaMessage(event);
  return { event, record, value: Buffer.from(record.value) };
}

function decodeError(fn: () => unknown): EnvelopeDecodeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) return error;
    throw error;
  }
  throw new Error('decoded without error');
}

describe('toKafkaMessage', () => {
  it('routes to events.<resourceType> keyed by resourceId, value = the encoded envelope', () => {
    const { event } = setup();
    const record = toKafkaMessage(event, { topicPrefix: 'x.' });
    expect(record.topic).toBe('x.events.order');
    expect(record.key).toBe('ord_9');
    expect(JSON.parse(record.value)).toEqual(event);
    expect(toKafkaMessage(event).topic).toBe('events.order');
  });

  it('sets id/type/version/content-type and the CloudEvents 1.0 binary-mode headers', () => {
    const { event } = setup();
    expect(toKafkaMessage(event, { traceparent: TRACEPARENT }).headers).toEqual({
      'event-id': event.eventId,
      'event-type': 'order.created',
      'event-version': '2',
      'content-type': 'application/json',
      traceparent: TRACEPARENT,
      ce_specversion: '1.0',
      ce_id: event.eventId,
      ce_source: 'tidings/api',
      ce_type: 'order.created',
      ce_time: event.timestamp,
      ce_subject: 'ord_9',
      ce_dataschema: 'urn:tidings:schema:order.created:v2',
    });
  });

  it.each([
    [undefined],
    [null],
    [''],
    ['garbage'],
    ['00-00000000000000000000000000000000-b7ad6b7169203331-01'],
    ['00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01'],
    ['ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01'],
  ])('adds no traceparent header for %p', (traceparent) => {
    expect('traceparent' in toKafkaMessage(setup().event, { traceparent }).headers).toBe(false);
  });

  it('refuses events without a position: only the relay publishes', () => {
    expect(() => toKafkaMessage({ ...setup().event, position: null })).toThrow('has no position');
  });
});

describe('fromKafkaMessage', () => {
  it('decodes a record produced by toKafkaMessage, with string, Buffer or array headers', () => {
    const { event, record, value } = setup();
    expect(fromKafkaMessage({ value, key: record.key, headers: record.headers })).toEqual(event);
    expect(fromKafkaMessage({ value: record.value })).toEqual(event);
    const buffers = Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, [Buffer.from(v)]]));
    expect(fromKafkaMessage({ value, key: Buffer.from('ord_9'), headers: buffers })).toEqual(event);
  });

  it('renders the data at the version the consumer asks for', () => {
    const { value } = setup();
    const v1 = fromKafkaMessage({ value }, { version: 1 });
    expect(v1.version).toBe(1);
    // The catalogue's v2 example read at v1 is its v1 example (each written by hand).
    const v1Example = getEventType('order.created')!.versions.find((v) => v.version === 1)!.example;
    expect(v1.data).toEqual({ ...(v1Example as object), orderId: 'ord_9' });
    expect(fromKafkaMessage({ value }, { version: 2 }).version).toBe(2);
    const unsupported = decodeError(() => fromKafkaMessage({ value }, { version: 5 }));
    expect([unsupported.reason, unsupported.message]).toEqual([
      'unknown_version',
      'unknown version 5 of event type order.created',
    ]);
  });

  it.each([
    ['event-id', '0193a4e2-7b1c-7d4e-8f00-123456789abc'],
    ['event-type', 'order.shipped'],
    ['event-version', '1'],
    ['ce_id', '0193a4e2-7b1c-7d4e-8f00-123456789abc'],
    ['ce_type', 'order.shipped'],
    ['ce_subject', 'ord_1'],
    ['ce_dataschema', 'urn:tidings:schema:order.created:v1'],
  ])('rejects a record whose %s header disagrees with the body', (name, wrong) => {
    const { record, value } = setup();
    const error = decodeError(() =>
      fromKafkaMessage({ value, headers: { ...record.headers, [name]: wrong } }),
    );
    expect(error.message).toMatch(new RegExp(`^${name} header ${wrong} does not match the body`));
    expect(error.reason).toBe('malformed');
  });

  it('rejects a record keyed by anything but the resourceId', () => {
    const { value } = setup();
    expect(() => fromKafkaMessage({ value, key: 'ord_1' })).toThrow(
      'record key ord_1 is not the resourceId ord_9',
    );
  });

  it('rejects tombstones, unpositioned events and undecodable values as poison', () => {
    const { event } = setup();
    expect(decodeError(() => fromKafkaMessage({ value: null })).message).toBe(
      'record has no value (tombstone)',
    );
    expect(
      decodeError(() => fromKafkaMessage({ value: JSON.stringify({ ...event, position: null }) })).message,
    ).toBe('published event has no position');
    expect(decodeError(() => fromKafkaMessage({ value: Buffer.from('not json') })).message).toBe(
      'envelope is not valid JSON',
    );
    expect(
      decodeError(() =>
        fromKafkaMessage({ value: JSON.stringify({ ...event, eventType: 'order.teleported' }) }),
      ).reason,
    ).toBe('unknown_type');
  });
});

describe('topics', () => {
  it('names one topic per resource type, optionally prefixed', () => {
    expect(topicFor('order')).toBe('events.order');
    expect(topicFor('order', 't1.')).toBe('t1.events.order');
    expect(allEventTopics()).toEqual([
      'events.order',
      'events.message',
      'events.tenant',
      'events.api_key',
      'events.webhook',
    ]);
    expect(allEventTopics('p.')).toEqual(allEventTopics().map((t) => `p.${t}`));
  });
});
