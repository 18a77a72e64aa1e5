import {
  CATALOGUE,
  convertData,
  exampleData,
  getEventType,
  isKnownEventType,
  latestVersion,
  listEventTypes,
  resourceTypeOf,
  supportedVersions,
  UnknownEventTypeError,
  validateEventData,
  versionInfo,
  type EventDataMap,
  type EventEnvelopeOf,
  type EventVersion,
  type KnownEventType,
} from './catalogue';
import { buildUntypedEvent, renderAtVersion } from './envelope';
import { currencyExponent } from './order.events';

const omit = <T extends object, K extends keyof T>(o: T, key: K): Omit<T, K> => {
  const { [key]: _dropped, ...rest } = o;
  return rest;
};

function setup() {
  const cases = CATALOGUE.flatMap((def) =>
    def.versions.map((v) => ({ def, v, id: `${def.type}.v${v.version}` })),
  );
  const orderCreatedV2 = (currency: string, unitPriceMinor: number, quantity = 1) => ({
    orderId: 'ord_1',
    customer: { id: 'cus_1' },
    currency,
    items: [{ sku: 'A', quantity, unitPriceMinor }],
    totalMinor: unitPriceMinor * quantity,
    status: 'pending',
    notes: null,
    metadata: {},
  });
  // Walks the catalogue at run time, so types and versions are strings and numbers: the untyped builder.
  const emit = (eventType: string, data: unknown, version?: number) =>
    buildUntypedEvent({
      eventType,
      version,
      data,
      tenantId: 't',
      resourceId: 'r_1',
      sequence: 1,
      source: 's',
    });
  return { cases, orderCreatedV2, emit };
}

describe('the catalogue', () => {
  it('names every type <resourceType>.<verb>, the rule ResourceEventType relies on', () => {
    expect(CATALOGUE.filter((d) => !d.type.startsWith(`${d.resourceType}.`)).map((d) => d.type)).toEqual([]);
  });

  it('declares every type of DESIGN.md §4, each on its resource topic', () => {
    const types = listEventTypes().map((t) => `${t.resourceType}:${t.type}`);
    expect(types).toEqual([
      'order:order.created',
      'order:order.updated',
      'order:order.payment_received',
      'order:order.shipped',
      'order:order.delivered',
      'order:order.cancelled',
      'order:order.deleted',
      'message:message.received',
      'message:message.deleted',
      'tenant:tenant.created',
      'api_key:api_key.created',
      'api_key:api_key.revoked',
      'webhook:webhook.subscription.created',
      'webhook:webhook.subscription.updated',
      'webhook:webhook.subscription.deleted',
      'webhook:webhook.subscription.secret_rotated',
      'webhook:webhook.subscription.failing',
      'webhook:webhook.subscription.disabled',
      'webhook:webhook.subscription.enabled',
      'webhook:webhook.delivery.exhausted',
      'webhook:webhook.test',
    ]);
  });

  it('keeps EventDataMap in step with the catalogue', () => {
    // A missing or extra key here is a compile error; the runtime comparison catches catalogue drift.
    const keys: Record<keyof EventDataMap, true> = {
      'order.created': true,
      'order.updated': true,
      'order.payment_received': true,
      'order.shipped': true,
      'order.delivered': true,
      'order.cancelled': true,
      'order.deleted': true,
      'message.received': true,
      'message.deleted': true,
      'tenant.created': true,
      'api_key.created': true,
      'api_key.revoked': true,
      'webhook.subscription.created': true,
      'webhook.subscription.updated': true,
      'webhook.subscription.deleted': true,
      'webhook.subscription.secret_rotated': true,
      'webhook.subscription.failing': true,
      'webhook.subscription.disabled': true,
      'webhook.subscription.enabled': true,
      'webhook.delivery.exhausted': true,
      'webhook.test': true,
    };
    expect(Object.keys(keys).sort()).toEqual(CATALOGUE.map((d) => d.type).sort());
  });

  it('keeps EventVersions in step with the catalogue', () => {
    // Only declared versions type-check here; a version the catalogue adds is missing and fails the comparison.
    const versions: { [T in KnownEventType]: EventVersion<T>[] } = {
      'order.created': [1, 2],
      'order.updated': [1],
      'order.payment_received': [1],
      'order.shipped': [1],
      'order.delivered': [1],
      'order.cancelled': [1],
      'order.deleted': [1],
      'message.received': [1],
      'message.deleted': [1],
      'tenant.created': [1],
      'api_key.created': [1],
      'api_key.revoked': [1],
      'webhook.subscription.created': [1, 2],
      'webhook.subscription.updated': [1, 2],
      'webhook.subscription.deleted': [1],
      'webhook.subscription.secret_rotated': [1],
      'webhook.subscription.failing': [1],
      'webhook.subscription.disabled': [1],
      'webhook.subscription.enabled': [1],
      'webhook.delivery.exhausted': [1],
      'webhook.test': [1],
    };
    for (const def of CATALOGUE)
      expect(versions[def.type as KnownEventType]).toEqual(supportedVersions(def.type));
  });

  it('types an event at the version it is rendered at', () => {
    const v2 = buildUntypedEvent({
      eventType: 'order.created',
      tenantId: 'ten_1',
      resourceId: 'ord_1',
      sequence: 1,
      source: 'tidings/api',
      data: CATALOGUE.find((d) => d.type === 'order.created')!.versions[1].example,
    });
    const v1 = renderAtVersion(v2, 1) as EventEnvelopeOf<'order.created', 1>;
    // v1 carries the total in major units, v2 in minor units: each is only readable at its own version.
    const total: number = v1.data.total;
    // @ts-expect-error totalMinor is a v2 field
    void v1.data.totalMinor;
    const minor: number = (v2 as EventEnvelopeOf<'order.created', 2>).data.totalMinor;
    expect(total * 10 ** currencyExponent(v1.data.currency)).toBe(minor);
  });

  it('has a description and a valid example for every type and version', () => {
    const failures = setup().cases.flatMap(({ def, v, id }) => {
      const r = v.schema.safeParse(v.example);
      return [
        ...(r.success ? [] : [`${id}: example invalid: ${r.error.message}`]),
        ...(def.description && v.description ? [] : [`${id}: description missing`]),
      ];
    });
    expect(failures).toEqual([]);
  });

  it('rejects unknown keys in every object of every schema (strict)', () => {
    const failures = setup().cases.flatMap(({ v, id }) =>
      v.schema.safeParse({ ...(v.example as object), unexpected: 1 }).success ? [id] : [],
    );
    expect(failures).toEqual([]);
    const v2 = setup().orderCreatedV2('EUR', 100);
    expect(
      validateEventData.bind(null, 'order.created', 2, { ...v2, customer: { id: 'c', name: 'x' } }),
    ).toThrow(/customer/);
  });

  it('renders every example valid at every supported version; up then down equals the original', () => {
    const { cases, emit } = setup();
    for (const { def, v: from } of cases) {
      const event = emit(def.type, from.example, from.version);
      for (const to of def.versions) {
        const rendered = renderAtVersion(event, to.version);
        const back = renderAtVersion(rendered, from.version);
        expect({
          to: `${def.type}.v${to.version}`,
          ok: to.schema.safeParse(rendered.data).success,
          backOk: from.schema.safeParse(back.data).success,
        }).toEqual({ to: `${def.type}.v${to.version}`, ok: true, backOk: true });
        expect(rendered.version).toBe(to.version);
        // Down then up may lose what the older version cannot say (a field added later comes back as its
        // upcast default); up then down never may.
        if (to.version >= from.version) expect(back.data).toEqual(from.example);
      }
    }
  });

  it('renders order.created v2 at v1 and back exactly (its versions say the same in other units)', () => {
    const { orderCreatedV2, emit } = setup();
    const data = orderCreatedV2('EUR', 1950, 2);
    expect(renderAtVersion(renderAtVersion(emit('order.created', data), 1), 2).data).toEqual(data);
  });

  it('renders a subscription maxInFlight at v1 without it, and a v1 subscription at v2 as the default', () => {
    const { emit } = setup();
    const created = exampleData('webhook.subscription.created');
    const v1 = renderAtVersion(emit('webhook.subscription.created', { ...created, maxInFlight: 32 }), 1);
    expect(v1.data).toEqual(omit(created, 'maxInFlight'));
    expect(renderAtVersion(v1, 2).data).toEqual({ ...created, maxInFlight: null });
    const updated = emit('webhook.subscription.updated', {
      subscriptionId: created.subscriptionId,
      changes: { strictOrdering: true, maxInFlight: 8 },
    });
    expect(renderAtVersion(updated, 1).data).toEqual({
      subscriptionId: created.subscriptionId,
      changes: { strictOrdering: true },
    });
    // v1 cannot name the field: a change of it alone is an empty `changes` there (the v2 description says so).
    const alone = emit('webhook.subscription.updated', {
      subscriptionId: created.subscriptionId,
      changes: { maxInFlight: null },
    });
    expect(renderAtVersion(alone, 1).data).toEqual({ subscriptionId: created.subscriptionId, changes: {} });
  });

  it('requires casters for every version after the first', () => {
    for (const def of CATALOGUE) {
      for (const v of def.versions.slice(1)) {
        expect([def.type, typeof v.upcastFrom, typeof v.downcastTo]).toEqual([
          def.type,
          'function',
          'function',
        ]);
      }
    }
  });

  it('answers version and resource queries', () => {
    expect(latestVersion('order.created')).toBe(2);
    expect(supportedVersions('order.created')).toEqual([1, 2]);
    expect(supportedVersions('order.shipped')).toEqual([1]);
    expect(resourceTypeOf('webhook.test')).toBe('webhook');
    expect(isKnownEventType('message.deleted')).toBe(true);
    expect(isKnownEventType('message.exploded')).toBe(false);
    expect(() => latestVersion('nope')).toThrow(UnknownEventTypeError);
    expect(versionInfo('order.created', 1)).toEqual({ deprecated: true, sunset: '2027-06-30' });
    expect(versionInfo('order.created', 2)).toEqual({ deprecated: false, sunset: undefined });
    expect(getEventType('nope')).toBeUndefined();
  });

  it('describes each type with versions, JSON Schemas (2020-12), examples and deprecation markers', () => {
    const info = getEventType('order.created')!;
    expect(info).toMatchObject({ type: 'order.created', resourceType: 'order', latestVersion: 2 });
    expect(info.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(info.versions[0]).toMatchObject({ deprecated: true, sunset: '2027-06-30' });
    expect(info.versions[1].deprecated).toBe(false);
    expect('sunset' in info.versions[1]).toBe(false);
    expect(info.versions[1].jsonSchema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      additionalProperties: false,
    });
    expect(listEventTypes().every((t) => t.versions.every((v) => !('sunset' in v) || v.deprecated))).toBe(
      true,
    );
  });

  it('never carries a secret: no property named like a secret, key, token or password at any depth', () => {
    // `prefix` (the public part of an API key) and the rotation deadline are not secrets.
    const allowed = new Set(['prefix', 'previousSecretExpiresAt', 'apiKeyId']);
    const suspicious = /secret|passw|token|^key$|apikey|privatekey|credential/i;
    const walk = (node: unknown, path: string): string[] => {
      if (Array.isArray(node)) return node.flatMap((n, i) => walk(n, `${path}[${i}]`));
      if (typeof node !== 'object' || node === null) return [];
      const s = node as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const named = Object.keys(props).filter((k) => suspicious.test(k) && !allowed.has(k));
      const nested = Object.entries(s).flatMap(([k, v]) =>
        k === 'properties'
          ? Object.entries(props).flatMap(([p, child]) => walk(child, `${path}.${p}`))
          : walk(v, `${path}/${k}`),
      );
      return [...named.map((k) => `${path}.${k}`), ...nested];
    };
    const found = listEventTypes().flatMap((t) =>
      t.versions.flatMap((v) => walk(v.jsonSchema, `${t.type}.v${v.version}`)),
    );
    expect(found).toEqual([]);
    // The walk itself must see nested and nullable objects, or the guard above proves nothing.
    expect(walk({ anyOf: [{ properties: { a: { items: { properties: { token: {} } } } } }] }, 'x')).toEqual([
      'x/anyOf[0].a/items.token',
    ]);
  });
});

describe('order.created v1 ⇄ v2 money conversion', () => {
  it.each([
    ['EUR', 1950, 19.5],
    ['USD', 1, 0.01],
    ['JPY', 1500, 1500],
    ['KRW', 990, 990],
    ['KWD', 1234, 1.234],
    ['BHD', 5, 0.005],
  ])('renders %s %d minor units as %d major units and back exactly', (currency, minor, major) => {
    const { orderCreatedV2, emit } = setup();
    const data = orderCreatedV2(currency, minor);
    const v1 = renderAtVersion<{ total: number; items: { unitPrice: number }[]; customerId: string }>(
      emit('order.created', data),
      1,
    );
    expect(v1.data).toMatchObject({ total: major, customerId: 'cus_1', items: [{ unitPrice: major }] });
    expect(renderAtVersion(v1, 2).data).toEqual(data);
  });

  it('is exact for every amount from 0 to 100,000 minor units in 0-, 2- and 3-decimal currencies', () => {
    const { orderCreatedV2 } = setup();
    const lossy: string[] = [];
    for (const currency of ['JPY', 'EUR', 'KWD']) {
      for (let minor = 0; minor <= 100_000; minor += 7) {
        const data = orderCreatedV2(currency, minor, 3);
        const back = convertData('order.created', convertData('order.created', data, 2, 1), 1, 2);
        if (JSON.stringify(back) !== JSON.stringify(data)) lossy.push(`${currency} ${minor}`);
      }
    }
    expect(lossy).toEqual([]);
  });

  it('rejects v1 amounts with more decimals than the currency has', () => {
    const { emit } = setup();
    const v1 = {
      orderId: 'ord_1',
      customerId: 'cus_1',
      currency: 'JPY',
      items: [{ sku: 'A', quantity: 1, unitPrice: 10.5 }],
      total: 10.5,
      status: 'pending',
      notes: null,
      metadata: {},
    };
    expect(() => emit('order.created', v1, 1)).toThrow(/items\.0\.unitPrice has more decimals than JPY/);
    expect(() => emit('order.created', { ...v1, currency: 'EUR', total: 10.555 }, 1)).toThrow(
      'v1: total has more decimals than EUR allows (2)',
    );
  });
});
