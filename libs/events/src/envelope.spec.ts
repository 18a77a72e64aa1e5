import { CATALOGUE, EventValidationError, UnknownEventTypeError } from './catalogue';
import {
  buildEvent,
  buildUntypedEvent,
  decodeEnvelope,
  ENVELOPE_FIELDS,
  EnvelopeDecodeError,
  encodeEnvelope,
  renderAtVersion,
  type EventEnvelope,
  type UntypedEventInput,
} from './envelope';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Most cases here are about what the run-time checks refuse, so they build through the untyped door; the
// typed `buildEvent` is the same checks behind the catalogue's types (build-event.types.spec.ts).
const SHIPPED = {
  eventType: 'order.shipped',
  tenantId: 'ten_1',
  resourceId: 'ord_1',
  sequence: 3,
  source: 'tidings/api',
  data: { orderId: 'ord_1', carrier: 'DHL', trackingNumber: null, shippedAt: '2026-11-28T12:00:00.000Z' },
} as const;

function setup(overrides: Partial<UntypedEventInput> = {}) {
  const input: UntypedEventInput = { ...SHIPPED, ...overrides };
  const event: EventEnvelope = { ...buildUntypedEvent(input), position: 42 };
  return { input, event };
}

function buildError(overrides: Partial<UntypedEventInput>): EventValidationError {
  try {
    setup(overrides);
  } catch (error) {
    if (error instanceof EventValidationError) return error;
    throw error;
  }
  throw new Error('built without error');
}

function decodeError(value: unknown): EnvelopeDecodeError {
  try {
    decodeEnvelope(typeof value === 'string' ? value : JSON.stringify(value));
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) return error;
    throw error;
  }
  throw new Error('decoded without error');
}

describe('buildEvent', () => {
  it('fills the envelope from the catalogue: latest version, resource type, UUIDv7, UTC timestamp, no position', () => {
    const { event } = setup();
    const built = buildEvent(SHIPPED);
    expect(built).toMatchObject({
      eventType: 'order.shipped',
      version: 1,
      resourceType: 'order',
      resourceId: 'ord_1',
      tenantId: 'ten_1',
      source: 'tidings/api',
      sequence: 3,
      position: null,
    });
    expect(event.eventId).toMatch(UUID_V7);
    expect(event.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('defaults to the latest version and honours an explicit one', () => {
    const created = CATALOGUE.find((d) => d.type === 'order.created')!;
    const base = { eventType: 'order.created', resourceId: 'ord_1', sequence: 1 };
    expect(setup({ ...base, data: created.versions[1].example }).event.version).toBe(2);
    expect(setup({ ...base, version: 1, data: created.versions[0].example }).event.version).toBe(1);
  });

  it('normalises the timestamp to UTC and keeps a given eventId', () => {
    const eventId = '0193a4e2-7b1c-7d4e-8f00-123456789abc';
    const { event } = setup({ timestamp: '2026-11-28T13:00:00+01:00', eventId });
    expect(event.timestamp).toBe('2026-11-28T12:00:00.000Z');
    expect(event.eventId).toBe(eventId);
    expect(setup({ timestamp: new Date(0) }).event.timestamp).toBe('1970-01-01T00:00:00.000Z');
  });

  it('applies schema defaults so emitted data always has the same shape', () => {
    const { event } = setup({
      eventType: 'order.created',
      data: {
        orderId: 'ord_1',
        customer: { id: 'c' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceMinor: 100 }],
        totalMinor: 100,
        status: 'pending',
        metadata: {},
      },
    });
    expect(event.data).toMatchObject({ notes: null });
  });

  it('rejects invalid data with the failing paths in issues', () => {
    const error = buildError({ data: { orderId: 'ord_1', carrier: 5, trackingNumber: null } });
    expect(error.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['carrier', 'shippedAt']));
    expect(error.message).toContain('invalid data for order.shipped v1');
    expect(
      buildError({
        data: { orderId: 'ord_1', carrier: null, trackingNumber: null, shippedAt: 'now', extra: 1 },
      }).issues.map((i) => i.path),
    ).toEqual(expect.arrayContaining(['shippedAt', '']));
  });

  it('rejects unknown types and versions as UnknownEventTypeError with an issue', () => {
    const type = buildError({ eventType: 'order.exploded' });
    expect(type).toBeInstanceOf(UnknownEventTypeError);
    expect(type.issues).toEqual([{ path: 'eventType', message: 'unknown event type order.exploded' }]);
    const version = buildError({ version: 3 });
    expect(version).toBeInstanceOf(UnknownEventTypeError);
    expect(version.message).toBe('unknown version 3 of event type order.shipped');
    expect(version.issues[0].path).toBe('version');
  });

  it.each([
    [{ sequence: 0 }, 'sequence must be a positive integer'],
    [{ sequence: 1.5 }, 'sequence must be a positive integer'],
    [{ tenantId: '' }, 'tenantId, resourceId and source are required'],
    [{ resourceId: '' }, 'tenantId, resourceId and source are required'],
    [{ source: '' }, 'tenantId, resourceId and source are required'],
    [{ timestamp: 'not a date' }, 'timestamp is not a valid date'],
    [{ eventId: '0193a4e2-7b1c-4d4e-8f00-123456789abc' }, 'eventId must be a UUIDv7'],
  ])('rejects %p', (overrides, message) => {
    expect(buildError(overrides).message).toBe(message);
  });
});

describe('encodeEnvelope / decodeEnvelope', () => {
  it('round-trips an envelope exactly, from a string or a Buffer, with or without a position', () => {
    const { event } = setup();
    expect(decodeEnvelope(encodeEnvelope(event))).toEqual(event);
    expect(decodeEnvelope(Buffer.from(encodeEnvelope(event)))).toEqual(event);
    const unpositioned = { ...event, position: null };
    expect(decodeEnvelope(encodeEnvelope(unpositioned))).toEqual(unpositioned);
  });

  it('encodes the fields in the documented order and nothing else', () => {
    const { event } = setup();
    const extra = { ...event, stray: true } as EventEnvelope;
    expect(Object.keys(JSON.parse(encodeEnvelope(extra)))).toEqual([
      'eventId',
      'eventType',
      'version',
      'timestamp',
      'source',
      'tenantId',
      'resourceType',
      'resourceId',
      'sequence',
      'position',
      'data',
    ]);
  });

  it.each(ENVELOPE_FIELDS)('rejects an envelope without %s', (field) => {
    const broken: Record<string, unknown> = { ...setup().event };
    delete broken[field];
    const error = decodeError(broken);
    expect(error.message).toBe(`${field} is missing`);
    expect(error.reason).toBe('malformed');
  });

  it.each([
    ['eventId', 42, 'eventId must be a lowercase UUIDv7'],
    ['eventId', '0193a4e2-7b1c-4d4e-8f00-123456789abc', 'eventId must be a lowercase UUIDv7'],
    ['eventId', '0193A4E2-7B1C-7D4E-8F00-123456789ABC', 'eventId must be a lowercase UUIDv7'],
    ['eventId', '0193a4e2-7b1c-7d4e-cf00-123456789abc', 'eventId must be a lowercase UUIDv7'],
    ['eventId', 'evt_1', 'eventId must be a lowercase UUIDv7'],
    ['eventType', '', 'eventType must be a non-empty string'],
    ['eventType', null, 'eventType must be a non-empty string'],
    ['version', 0, 'version must be a positive integer'],
    ['version', '1', 'version must be a positive integer'],
    ['version', 1.5, 'version must be a positive integer'],
    ['timestamp', '2026-11-28T12:00:00+01:00', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', '2026-11-28T12:00:00', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', '2026-11-28', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', '2026-02-30T12:00:00.000Z', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', '2026-11-28T24:00:00Z', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', 1795867200000, 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['timestamp', 'yesterday', 'timestamp must be an ISO 8601 UTC date-time (…Z)'],
    ['source', '', 'source must be a non-empty string'],
    ['tenantId', 7, 'tenantId must be a non-empty string'],
    ['resourceType', ['order'], 'resourceType must be a non-empty string'],
    ['resourceType', 'message', 'resourceType message does not match order.shipped'],
    ['resourceId', null, 'resourceId must be a non-empty string'],
    ['sequence', 0, 'sequence must be a positive integer'],
    ['sequence', 1.5, 'sequence must be a positive integer'],
    ['sequence', '3', 'sequence must be a positive integer'],
    ['position', -1, 'position must be a positive integer'],
    ['position', '42', 'position must be a positive integer'],
  ])('rejects %s = %p with "%s"', (field, value, message) => {
    const error = decodeError({ ...setup().event, [field]: value });
    expect(error.message).toBe(message);
    expect(error.reason).toBe('malformed');
  });

  it('accepts UTC timestamps with 0–6 fractional digits', () => {
    for (const timestamp of [
      '2026-11-28T12:00:00Z',
      '2026-11-28T12:00:00.1Z',
      '2026-11-28T12:00:00.123456Z',
    ]) {
      expect(decodeEnvelope(JSON.stringify({ ...setup().event, timestamp })).timestamp).toBe(timestamp);
    }
  });

  it('rejects non-JSON, non-objects and unknown fields', () => {
    expect(decodeError('{').message).toBe('envelope is not valid JSON');
    expect(decodeError('').message).toBe('envelope is not valid JSON');
    expect(decodeError([1]).message).toBe('envelope must be a JSON object');
    expect(decodeError('null').message).toBe('envelope must be a JSON object');
    expect(decodeError('"text"').message).toBe('envelope must be a JSON object');
    expect(decodeError({ ...setup().event, extra: 1, more: 2 }).message).toBe(
      'unknown field(s): extra, more',
    );
  });

  it('tells unknown types and versions apart from invalid data, with precise messages', () => {
    const { event } = setup();
    const type = decodeError({ ...event, eventType: 'order.teleported' });
    expect([type.reason, type.message]).toEqual(['unknown_type', 'unknown event type order.teleported']);
    const version = decodeError({ ...event, version: 9 });
    expect([version.reason, version.message]).toEqual([
      'unknown_version',
      'unknown version 9 of event type order.shipped',
    ]);
    const data = decodeError({ ...event, data: { ...(event.data as object), carrier: 7 } });
    expect(data.reason).toBe('invalid_data');
    expect(data.message).toMatch(/^invalid data for order\.shipped v1: carrier /);
    expect(decodeError({ ...event, data: 'text' }).reason).toBe('invalid_data');
  });
});

describe('renderAtVersion', () => {
  it('returns the same event at its own version and converts to other versions', () => {
    const { event } = setup();
    expect(renderAtVersion(event, 1)).toBe(event);
    expect(() => renderAtVersion(event, 2)).toThrow(UnknownEventTypeError);
  });
});
