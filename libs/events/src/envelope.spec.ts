import { CATALOGUE, EventValidationError, listEventTypes } from './catalogue';
import {
  buildEvent,
  decodeEnvelope,
  EnvelopeDecodeError,
  encodeEnvelope,
  renderAtVersion,
  type EventEnvelope,
} from './envelope';

function setup(overrides: Partial<EventEnvelope> = {}) {
  const event = buildEvent({
    eventType: 'order.shipped',
    tenantId: 'ten_1',
    resourceId: 'ord_1',
    sequence: 3,
    source: 'tidings/api',
    data: { orderId: 'ord_1', carrier: 'DHL', trackingNumber: null, shippedAt: '2026-11-28T12:00:00.000Z' },
  });
  return { event: { ...event, position: 42, ...overrides } };
}

function decodeError(value: unknown): EnvelopeDecodeError {
  try {
    decodeEnvelope(JSON.stringify(value));
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) return error;
    throw error;
  }
  throw new Error('decoded without error');
}

describe('buildEvent', () => {
  it('fills the envelope from the catalogue: latest version, resource type, UUIDv7, UTC timestamp', () => {
    const { event } = setup();
    expect(event).toMatchObject({
      eventType: 'order.shipped',
      version: 1,
      resourceType: 'order',
      sequence: 3,
    });
    expect(event.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.timestamp).toMatch(/Z$/);
    expect(
      buildEvent({
        eventType: 'order.created',
        tenantId: 't',
        resourceId: 'ord_1',
        sequence: 1,
        source: 's',
        data: CATALOGUE[0].versions[1].example,
      }).version,
    ).toBe(2);
  });

  it('rejects invalid data with the failing paths', () => {
    expect(() =>
      buildEvent({
        eventType: 'order.shipped',
        tenantId: 't',
        resourceId: 'ord_1',
        sequence: 1,
        source: 's',
        data: { orderId: 'ord_1', carrier: 5 },
      }),
    ).toThrow(/carrier/);
    expect(() =>
      buildEvent({
        eventType: 'order.exploded',
        tenantId: 't',
        resourceId: 'r',
        sequence: 1,
        source: 's',
        data: {},
      }),
    ).toThrow(EventValidationError);
    expect(() =>
      buildEvent({
        eventType: 'order.delivered',
        tenantId: 't',
        resourceId: 'ord_1',
        sequence: 0,
        source: 's',
        data: { orderId: 'ord_1', deliveredAt: '2026-11-28T12:00:00.000Z' },
      }),
    ).toThrow(/sequence/);
  });
});

describe('encodeEnvelope / decodeEnvelope', () => {
  it('round-trips an envelope exactly', () => {
    const { event } = setup();
    expect(decodeEnvelope(encodeEnvelope(event))).toEqual(event);
    expect(decodeEnvelope(Buffer.from(encodeEnvelope(event)))).toEqual(event);
  });

  it.each([
    ['eventId', undefined, 'eventId is missing'],
    ['eventId', '0193a4e2-7b1c-4d4e-8f00-123456789abc', 'UUIDv7'],
    ['eventType', '', 'eventType must be a non-empty string'],
    ['version', 0, 'version must be a positive integer'],
    ['version', '1', 'version must be a positive integer'],
    ['timestamp', '2026-11-28T12:00:00+01:00', 'UTC'],
    ['timestamp', 'yesterday', 'UTC'],
    ['tenantId', 7, 'tenantId must be a non-empty string'],
    ['sequence', 1.5, 'sequence must be a positive integer'],
    ['position', -1, 'position must be a positive integer'],
    ['resourceType', 'message', 'does not match'],
  ])('rejects %s = %p', (field, value, message) => {
    const { event } = setup();
    const broken: Record<string, unknown> = { ...event, [field]: value };
    if (value === undefined) delete broken[field];
    expect(decodeError(broken).message).toContain(message);
  });

  it('rejects non-JSON, non-objects and unknown fields', () => {
    expect(() => decodeEnvelope('{')).toThrow('not valid JSON');
    expect(decodeError([1]).message).toContain('JSON object');
    expect(decodeError({ ...setup().event, extra: 1 }).message).toContain('unknown field(s): extra');
  });

  it('tells unknown types and versions apart from invalid data', () => {
    const { event } = setup();
    expect(decodeError({ ...event, eventType: 'order.teleported' }).reason).toBe('unknown_type');
    expect(decodeError({ ...event, version: 9 }).reason).toBe('unknown_version');
    expect(decodeError({ ...event, data: { orderId: 'ord_1' } }).reason).toBe('invalid_data');
  });
});

describe('the catalogue', () => {
  it('has a valid example for every type and version', () => {
    for (const def of CATALOGUE) {
      for (const v of def.versions) {
        const r = v.schema.safeParse(v.example);
        expect({ id: `${def.type}.v${v.version}`, ok: r.success }).toEqual({
          id: `${def.type}.v${v.version}`,
          ok: true,
        });
      }
    }
  });

  it('round-trips every example through every supported version', () => {
    for (const def of CATALOGUE) {
      for (const from of def.versions) {
        const event = buildEvent({
          eventType: def.type,
          version: from.version,
          tenantId: 't',
          resourceId: 'r_1',
          sequence: 1,
          source: 's',
          data: from.example,
        });
        for (const to of def.versions) {
          const rendered = renderAtVersion(event, to.version);
          expect(to.schema.safeParse(rendered.data).success).toBe(true);
          expect(renderAtVersion(rendered, from.version).data).toEqual(from.example);
        }
      }
    }
  });

  it('converts order.created v2 money to v1 major units and back exactly, per currency exponent', () => {
    const v2 = {
      orderId: 'ord_1',
      customer: { id: 'c' },
      currency: 'JPY',
      items: [{ sku: 'A', quantity: 1, unitPriceMinor: 1500 }],
      totalMinor: 1500,
      status: 'pending',
      notes: null,
      metadata: {},
    };
    const e = buildEvent({
      eventType: 'order.created',
      tenantId: 't',
      resourceId: 'ord_1',
      sequence: 1,
      source: 's',
      data: v2,
    });
    expect(renderAtVersion<{ total: number; customerId: string }>(e, 1).data).toMatchObject({
      total: 1500,
      customerId: 'c',
    });
    const kwd = {
      ...v2,
      currency: 'KWD',
      totalMinor: 1234,
      items: [{ sku: 'A', quantity: 1, unitPriceMinor: 1234 }],
    };
    const k = renderAtVersion<{ total: number }>(
      buildEvent({
        eventType: 'order.created',
        tenantId: 't',
        resourceId: 'ord_1',
        sequence: 1,
        source: 's',
        data: kwd,
      }),
      1,
    );
    expect(k.data.total).toBe(1.234);
    expect(renderAtVersion(k, 2).data).toEqual(kwd);
  });

  it('never carries a secret: no property named secret, key, token or password at any depth', () => {
    const forbidden = /^(secret|secrets|key|apiKey|token|password|signingSecret)$/i;
    const walk = (schema: unknown, path: string): string[] => {
      if (typeof schema !== 'object' || schema === null) return [];
      const s = schema as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, unknown>;
      return [
        ...Object.keys(props)
          .filter((k) => forbidden.test(k))
          .map((k) => `${path}.${k}`),
        ...Object.entries(props).flatMap(([k, v]) => walk(v, `${path}.${k}`)),
        ...(s.items ? walk(s.items, `${path}[]`) : []),
      ];
    };
    const found = listEventTypes().flatMap((t) =>
      t.versions.flatMap((v) => walk(v.jsonSchema, `${t.type}.v${v.version}`)),
    );
    expect(found).toEqual([]);
  });

  it('marks order.created v1 deprecated with a sunset date', () => {
    const info = listEventTypes().find((t) => t.type === 'order.created')!;
    expect(info.latestVersion).toBe(2);
    expect(info.versions[0]).toMatchObject({ deprecated: true, sunset: '2027-06-30' });
    expect(info.versions[1].deprecated).toBe(false);
  });
});
