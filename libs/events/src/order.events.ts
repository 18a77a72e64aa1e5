import { z } from 'zod';
import type { EventDefinition } from './catalogue';
import { currency, isoDateTime, metadata, minorAmount, orderId, quantity, sku } from './schema-parts';

const itemMinor = z.strictObject({ sku, quantity, unitPriceMinor: minorAmount });
// Producers may omit notes; emitted events always carry the key (null when there are none).
const notes = z.string().max(2000).nullable().default(null);

/** Minor-unit exponent per ISO 4217 code (default 2). */
const EXPONENTS: Record<string, number> = {
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  BHD: 3,
  KWD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
};
export const currencyExponent = (code: string) => EXPONENTS[code] ?? 2;
const toMajor = (minor: number, code: string) =>
  Number((minor / 10 ** currencyExponent(code)).toFixed(currencyExponent(code)));
const toMinor = (major: number, code: string) => Math.round(major * 10 ** currencyExponent(code));

export const orderCreatedV1 = z
  .strictObject({
    orderId,
    customerId: z.string().min(1).max(128),
    currency,
    items: z
      .array(
        z.strictObject({ sku, quantity, unitPrice: z.number().min(0).describe('Unit price in major units') }),
      )
      .min(1),
    total: z.number().min(0).describe('Order total in major units'),
    status: z.literal('pending'),
    notes,
    metadata,
  })
  // v1 amounts are decimals; each must be exact in the currency's minor units so v1 → v2 loses nothing.
  .superRefine((d, ctx) => {
    const amounts: [number, PropertyKey[]][] = [
      [d.total, ['total']],
      ...d.items.map((i, n): [number, PropertyKey[]] => [i.unitPrice, ['items', n, 'unitPrice']]),
    ];
    for (const [amount, path] of amounts) {
      if (toMajor(toMinor(amount, d.currency), d.currency) !== amount) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `has more decimals than ${d.currency} allows (${currencyExponent(d.currency)})`,
        });
      }
    }
  });

export const orderCreatedV2 = z.strictObject({
  orderId,
  customer: z.strictObject({ id: z.string().min(1).max(128) }),
  currency,
  items: z.array(itemMinor).min(1),
  totalMinor: minorAmount,
  status: z.literal('pending'),
  notes,
  metadata,
});

export type OrderCreatedV1 = z.infer<typeof orderCreatedV1>;
export type OrderCreatedV2 = z.infer<typeof orderCreatedV2>;

export const orderUpdatedV1 = z.strictObject({
  orderId,
  changes: z
    .strictObject({
      customerId: z.string().min(1).max(128).optional(),
      items: z.array(itemMinor).min(1).optional(),
      totalMinor: minorAmount.optional(),
      notes: z.string().max(2000).nullable().optional(),
      metadata: metadata.optional(),
    })
    .refine((c) => Object.keys(c).length > 0, 'changes must name at least one field'),
});

const nullableText = z.string().max(256).nullable();

export const orderPaymentReceivedV1 = z.strictObject({
  orderId,
  amountMinor: minorAmount,
  currency,
  paymentReference: nullableText,
  paidAt: isoDateTime,
});
export const orderShippedV1 = z.strictObject({
  orderId,
  carrier: nullableText,
  trackingNumber: nullableText,
  shippedAt: isoDateTime,
});
export const orderDeliveredV1 = z.strictObject({ orderId, deliveredAt: isoDateTime });
export const orderCancelledV1 = z.strictObject({
  orderId,
  reason: z.string().max(500).nullable(),
  cancelledAt: isoDateTime,
});
export const orderDeletedV1 = z.strictObject({ orderId, deletedAt: isoDateTime });

export type OrderUpdatedV1 = z.infer<typeof orderUpdatedV1>;
export type OrderPaymentReceivedV1 = z.infer<typeof orderPaymentReceivedV1>;
export type OrderShippedV1 = z.infer<typeof orderShippedV1>;
export type OrderDeliveredV1 = z.infer<typeof orderDeliveredV1>;
export type OrderCancelledV1 = z.infer<typeof orderCancelledV1>;
export type OrderDeletedV1 = z.infer<typeof orderDeletedV1>;

export const ORDER_EVENTS: EventDefinition[] = [
  {
    type: 'order.created',
    resourceType: 'order',
    description: 'An order was placed.',
    versions: [
      {
        version: 1,
        description: 'Flat customer id; amounts in major units (decimal numbers).',
        schema: orderCreatedV1,
        deprecated: true,
        sunset: '2027-06-30',
        example: {
          orderId: 'ord_01JD3Y8Z4K',
          customerId: 'cus_42',
          currency: 'EUR',
          items: [{ sku: 'TSHIRT-M', quantity: 2, unitPrice: 19.5 }],
          total: 39,
          status: 'pending',
          notes: null,
          metadata: { channel: 'web' },
        },
      },
      {
        version: 2,
        description: 'Nested customer; amounts in integer minor units (no floating point money).',
        schema: orderCreatedV2,
        example: {
          orderId: 'ord_01JD3Y8Z4K',
          customer: { id: 'cus_42' },
          currency: 'EUR',
          items: [{ sku: 'TSHIRT-M', quantity: 2, unitPriceMinor: 1950 }],
          totalMinor: 3900,
          status: 'pending',
          notes: null,
          metadata: { channel: 'web' },
        },
        upcastFrom: (v1) => {
          const d = v1 as OrderCreatedV1;
          return {
            orderId: d.orderId,
            customer: { id: d.customerId },
            currency: d.currency,
            items: d.items.map((i) => ({
              sku: i.sku,
              quantity: i.quantity,
              unitPriceMinor: toMinor(i.unitPrice, d.currency),
            })),
            totalMinor: toMinor(d.total, d.currency),
            status: d.status,
            notes: d.notes ?? null,
            metadata: d.metadata,
          } satisfies OrderCreatedV2;
        },
        downcastTo: (v2) => {
          const d = v2 as OrderCreatedV2;
          return {
            orderId: d.orderId,
            customerId: d.customer.id,
            currency: d.currency,
            items: d.items.map((i) => ({
              sku: i.sku,
              quantity: i.quantity,
              unitPrice: toMajor(i.unitPriceMinor, d.currency),
            })),
            total: toMajor(d.totalMinor, d.currency),
            status: d.status,
            notes: d.notes ?? null,
            metadata: d.metadata,
          } satisfies OrderCreatedV1;
        },
      },
    ],
  },
  {
    type: 'order.updated',
    resourceType: 'order',
    description: 'Editable fields of an order changed; `changes` holds the new values of the changed fields.',
    versions: [
      {
        version: 1,
        description: 'Changed fields with their new values; amounts in minor units.',
        schema: orderUpdatedV1,
        example: { orderId: 'ord_01JD3Y8Z4K', changes: { notes: 'Leave at the door' } },
      },
    ],
  },
  {
    type: 'order.payment_received',
    resourceType: 'order',
    description: 'The order was paid in full.',
    versions: [
      {
        version: 1,
        description: 'Amount paid in minor units.',
        schema: orderPaymentReceivedV1,
        example: {
          orderId: 'ord_01JD3Y8Z4K',
          amountMinor: 3900,
          currency: 'EUR',
          paymentReference: 'pi_123',
          paidAt: '2026-11-28T12:05:00.000Z',
        },
      },
    ],
  },
  {
    type: 'order.shipped',
    resourceType: 'order',
    description: 'The order left the warehouse.',
    versions: [
      {
        version: 1,
        description: 'Carrier and tracking number when known.',
        schema: orderShippedV1,
        example: {
          orderId: 'ord_01JD3Y8Z4K',
          carrier: 'DHL',
          trackingNumber: 'JD0146000',
          shippedAt: '2026-11-29T08:00:00.000Z',
        },
      },
    ],
  },
  {
    type: 'order.delivered',
    resourceType: 'order',
    description: 'The order reached the customer.',
    versions: [
      {
        version: 1,
        description: 'Delivery time.',
        schema: orderDeliveredV1,
        example: { orderId: 'ord_01JD3Y8Z4K', deliveredAt: '2026-11-30T15:30:00.000Z' },
      },
    ],
  },
  {
    type: 'order.cancelled',
    resourceType: 'order',
    description: 'The order was cancelled before shipping.',
    versions: [
      {
        version: 1,
        description: 'Reason when given.',
        schema: orderCancelledV1,
        example: {
          orderId: 'ord_01JD3Y8Z4K',
          reason: 'Customer changed their mind',
          cancelledAt: '2026-11-28T13:00:00.000Z',
        },
      },
    ],
  },
  {
    type: 'order.deleted',
    resourceType: 'order',
    description: 'The order was deleted; it no longer appears in the API.',
    versions: [
      {
        version: 1,
        description: 'Deletion time.',
        schema: orderDeletedV1,
        example: { orderId: 'ord_01JD3Y8Z4K', deletedAt: '2026-12-01T00:00:00.000Z' },
      },
    ],
  },
];
