import { z } from 'zod';
import { defineResource, type View } from '../resources/resource';
import { ORDER_STATUSES, statusAfter } from './order-lifecycle';

const text = z.string();
const nullableText = z.string().nullable();

/** The order, declared once: its row (table `orders`), its view, and its fold over the `order.*` events. */
export const ORDER = defineResource({
  type: 'order',
  label: 'Order',
  table: 'orders',
  idPrefix: 'ord_',
  // The `.meta()` examples and descriptions are the view's in the OpenAPI document (docs/resource-schema.ts).
  state: z.object({
    id: text.meta({ example: 'ord_01a222afaee376379975dbf690303b4d' }),
    tenantId: text,
    customerId: text.meta({ example: 'cus_42' }),
    currency: text.meta({ example: 'EUR' }),
    items: z.array(
      z.object({
        sku: text.meta({ example: 'TSHIRT-M' }),
        quantity: z.int().meta({ example: 2 }),
        unitPriceMinor: z.int().meta({ example: 1950, description: 'Unit price in minor units (cents)' }),
      }),
    ),
    totalMinor: z.number().meta({ example: 3900, description: 'Sum of quantity × unitPriceMinor' }),
    status: z.enum(ORDER_STATUSES),
    notes: nullableText,
    metadata: z.record(text, text),
    paymentReference: nullableText,
    carrier: nullableText,
    trackingNumber: nullableText,
    cancelReason: nullableText,
    version: z.number().meta({
      description: 'Bumped by every change; also the ETag and the sequence of its latest event',
    }),
    createdAt: z.date(),
    updatedAt: z.date(),
    deletedAt: z.date().nullable(),
  }),
  creation: 'order.created',
  created: ({ data }) => ({
    customerId: data.customer.id,
    currency: data.currency,
    items: data.items,
    totalMinor: data.totalMinor,
    status: data.status,
    notes: data.notes,
    metadata: data.metadata,
    paymentReference: null,
    carrier: null,
    trackingNumber: null,
    cancelReason: null,
  }),
  on: {
    'order.updated': (order, { data: { changes } }) => ({
      ...order,
      ...(changes.customerId !== undefined && { customerId: changes.customerId }),
      ...(changes.items !== undefined && { items: changes.items }),
      ...(changes.totalMinor !== undefined && { totalMinor: changes.totalMinor }),
      ...(changes.notes !== undefined && { notes: changes.notes }),
      ...(changes.metadata !== undefined && { metadata: changes.metadata }),
    }),
    'order.payment_received': (order, { data }) => ({
      ...order,
      status: statusAfter('pay'),
      paymentReference: data.paymentReference,
    }),
    'order.shipped': (order, { data }) => ({
      ...order,
      status: statusAfter('ship'),
      carrier: data.carrier,
      trackingNumber: data.trackingNumber,
    }),
    'order.delivered': (order) => ({ ...order, status: statusAfter('deliver') }),
    'order.cancelled': (order, { data }) => ({
      ...order,
      status: statusAfter('cancel'),
      cancelReason: data.reason,
    }),
    'order.deleted': (order, { data }) => ({ ...order, deletedAt: new Date(data.deletedAt) }),
  },
  deletion: 'order.deleted',
});

export type OrderState = ReturnType<typeof ORDER.fromRow>;
export type OrderView = View<OrderState>;
