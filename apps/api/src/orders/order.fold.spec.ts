import {
  buildEvent,
  type EventData,
  type EventEnvelope,
  getEventType,
  type KnownEventType,
  renderAtVersion,
} from '@tidings/events';
import { orderCreatedData, orderEvent } from '../../../../test/support/factories/events';
import { applyOrderEvent, FoldError, foldOrder, type OrderState } from './order.fold';

type OrderEventType = Extract<KnownEventType, `order.${string}`>;

const TENANT = 'ten_1';
const ORDER = 'ord_1';
const at = (minute: number) => `2026-11-28T12:${String(minute).padStart(2, '0')}:00.000Z`;

function setup() {
  let sequence = 0;
  const event = <T extends OrderEventType>(
    eventType: T,
    data: Omit<EventData<T>, 'orderId'>,
    minute = sequence + 1,
  ): EventEnvelope =>
    orderEvent(
      eventType,
      { tenantId: TENANT, orderId: ORDER, sequence: ++sequence, timestamp: at(minute) },
      data,
    );
  const data = orderCreatedData();
  const created = () => event('order.created', data);
  const createdState: OrderState = {
    id: ORDER,
    tenantId: TENANT,
    customerId: data.customer.id,
    currency: data.currency,
    items: data.items,
    totalMinor: data.totalMinor,
    status: 'pending',
    notes: null,
    metadata: data.metadata,
    paymentReference: null,
    carrier: null,
    trackingNumber: null,
    cancelReason: null,
    version: 1,
    createdAt: new Date(at(1)),
    updatedAt: new Date(at(1)),
    deletedAt: null,
  };
  return { event, created, createdState };
}

describe('foldOrder', () => {
  it('folds nothing to null', () => {
    expect(foldOrder([])).toBeNull();
  });

  it('creates the order from a v2 order.created', () => {
    const { created, createdState } = setup();
    expect(foldOrder([created()])).toEqual(createdState);
  });

  it('creates the same order from a v1 order.created, up-cast through the catalogue', () => {
    const { created } = setup();
    const v2 = created();
    const v1 = renderAtVersion(v2, 1);
    expect(v1.version).toBe(1);
    expect(foldOrder([v1])).toEqual(foldOrder([renderAtVersion(v1, 2)]));
    expect(foldOrder([v1])).toMatchObject({ id: ORDER, status: 'pending', version: 1 });
  });

  it('folds the v1 catalogue example like its v2 rendering', () => {
    const info = getEventType('order.created')!;
    const example = info.versions.find((v) => v.version === 1)!.example as Record<string, unknown>;
    const v1 = { ...setup().created(), version: 1, data: example };
    const state = foldOrder([v1])!;
    expect(state).toEqual(foldOrder([renderAtVersion(v1, 2)]));
    expect(state.version).toBe(1);
  });

  it('applies order.updated changes and leaves the rest', () => {
    const { event, created, createdState } = setup();
    const state = foldOrder([
      created(),
      event('order.updated', { changes: { notes: 'ring twice', metadata: { gift: 'yes' } } }),
      event('order.updated', {
        changes: { items: [{ sku: 'SKU-2', quantity: 1, unitPriceMinor: 300 }], totalMinor: 300 },
      }),
    ]);
    expect(state).toEqual({
      ...createdState,
      notes: 'ring twice',
      metadata: { gift: 'yes' },
      items: [{ sku: 'SKU-2', quantity: 1, unitPriceMinor: 300 }],
      totalMinor: 300,
      version: 3,
      updatedAt: new Date(at(3)),
    });
  });

  it('walks the lifecycle: paid, shipped, delivered', () => {
    const { event, created, createdState } = setup();
    const events = [
      created(),
      event('order.payment_received', {
        amountMinor: createdState.totalMinor,
        currency: 'EUR',
        paymentReference: 'pay_1',
        paidAt: at(2),
      }),
      event('order.shipped', { carrier: 'DHL', trackingNumber: 'TRK1', shippedAt: at(3) }),
      event('order.delivered', { deliveredAt: at(4) }),
    ];
    expect(foldOrder(events.slice(0, 2))).toEqual({
      ...createdState,
      status: 'paid',
      paymentReference: 'pay_1',
      version: 2,
      updatedAt: new Date(at(2)),
    });
    expect(foldOrder(events.slice(0, 3))).toMatchObject({
      status: 'shipped',
      carrier: 'DHL',
      trackingNumber: 'TRK1',
    });
    expect(foldOrder(events)).toEqual({
      ...createdState,
      status: 'delivered',
      paymentReference: 'pay_1',
      carrier: 'DHL',
      trackingNumber: 'TRK1',
      version: 4,
      updatedAt: new Date(at(4)),
    });
  });

  it('cancels with the reason', () => {
    const { event, created, createdState } = setup();
    expect(
      foldOrder([created(), event('order.cancelled', { reason: 'out of stock', cancelledAt: at(2) })]),
    ).toEqual({
      ...createdState,
      status: 'cancelled',
      cancelReason: 'out of stock',
      version: 2,
      updatedAt: new Date(at(2)),
    });
  });

  it('marks the order deleted at the time the event carries', () => {
    const { event, created, createdState } = setup();
    const deletedAt = '2026-11-28T12:02:30.123Z';
    expect(foldOrder([created(), event('order.deleted', { deletedAt })])).toEqual({
      ...createdState,
      version: 2,
      updatedAt: new Date(at(2)),
      deletedAt: new Date(deletedAt),
    });
  });

  it('applies one event at a time to the same state as folding them all', () => {
    const { event, created } = setup();
    const first = created();
    const second = event('order.updated', { changes: { notes: 'n' } });
    expect(applyOrderEvent(applyOrderEvent(null, first), second)).toEqual(foldOrder([first, second]));
  });

  it('refuses a sequence gap', () => {
    const { event, created } = setup();
    const first = created();
    event('order.updated', { changes: { notes: 'lost' } });
    const third = event('order.updated', { changes: { notes: 'x' } });
    expect(() => foldOrder([first, third])).toThrow(FoldError);
  });

  it('refuses an event before order.created', () => {
    const { event } = setup();
    expect(() => foldOrder([event('order.delivered', { deliveredAt: at(1) })])).toThrow(
      /before order.created/,
    );
  });

  it('refuses a second order.created', () => {
    const { created } = setup();
    const first = created();
    expect(() => foldOrder([first, created()])).toThrow(/created twice/);
  });

  it('refuses anything after order.deleted', () => {
    const { event, created } = setup();
    const events = [
      created(),
      event('order.deleted', { deletedAt: at(2) }),
      event('order.updated', { changes: { notes: 'zombie' } }),
    ];
    expect(() => foldOrder(events)).toThrow(/after order.deleted/);
  });

  it('refuses events of another resource type', () => {
    const { created } = setup();
    const message = buildEvent({
      eventType: 'message.deleted',
      tenantId: TENANT,
      resourceId: ORDER,
      sequence: 2,
      source: 'tidings/api',
      data: { messageId: 'msg_1', deletedAt: at(2) },
    });
    expect(() => foldOrder([created(), message])).toThrow(FoldError);
  });
});
