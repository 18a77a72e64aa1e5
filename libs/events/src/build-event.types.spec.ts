import { EventValidationError, UnknownEventTypeError } from './catalogue';
import { buildEvent, type EventFields } from './envelope';

// `npm run check` compiles this file: each `@ts-expect-error` below fails the typecheck if the line it marks
// ever compiles, so a typo'd type or a wrong payload is a tsc error, not a run-time surprise. The run-time
// expectations show the same events are refused by the catalogue's schemas too, should a cast get past tsc.
const fields: EventFields = { tenantId: 'ten_1', resourceId: 'ord_1', sequence: 2, source: 'tidings/test' };
const shipped = {
  orderId: 'ord_1',
  carrier: 'DHL',
  trackingNumber: null,
  shippedAt: '2026-11-28T12:00:00.000Z',
};

describe('buildEvent is typed by the catalogue', () => {
  it('accepts a known type with its payload and types the envelope data', () => {
    const event = buildEvent({ ...fields, eventType: 'order.shipped', data: shipped });
    const carrier: string | null = event.data.carrier;
    expect(carrier).toBe('DHL');
  });

  it('refuses a type the catalogue does not declare', () => {
    // @ts-expect-error 'order.shiped' is not a KnownEventType
    expect(() => buildEvent({ ...fields, eventType: 'order.shiped', data: shipped })).toThrow(
      UnknownEventTypeError,
    );
  });

  it("refuses another type's payload", () => {
    expect(() =>
      buildEvent({
        ...fields,
        eventType: 'order.delivered',
        // @ts-expect-error order.delivered carries deliveredAt, not a carrier
        data: shipped,
      }),
    ).toThrow(EventValidationError);
  });

  it('refuses a payload with a field of the wrong type or a missing field', () => {
    expect(() =>
      buildEvent({
        ...fields,
        eventType: 'order.shipped',
        // @ts-expect-error carrier is a string or null
        data: { ...shipped, carrier: 42 },
      }),
    ).toThrow(EventValidationError);
    expect(() =>
      buildEvent({
        ...fields,
        eventType: 'order.shipped',
        // @ts-expect-error shippedAt is required
        data: { orderId: 'ord_1', carrier: 'DHL', trackingNumber: null },
      }),
    ).toThrow(EventValidationError);
  });
});
