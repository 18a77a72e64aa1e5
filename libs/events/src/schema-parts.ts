import { z } from 'zod';

// Building blocks shared by the event schemas of this catalogue.
export const isoDateTime = z.iso.datetime({ offset: false }).describe('ISO 8601 date-time in UTC');
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR')
  .describe('ISO 4217 currency code');
export const minorAmount = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .describe('Amount in minor units (cents)');
export const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .describe('Free-form string key/value pairs');
export const sku = z.string().min(1).max(64);
export const quantity = z.number().int().min(1).max(1_000_000);
export const orderId = z
  .string()
  .regex(/^ord_[A-Za-z0-9_-]+$/)
  .describe('Order id');
export const messageId = z
  .string()
  .regex(/^msg_[A-Za-z0-9_-]+$/)
  .describe('Message id');
export const subscriptionId = z
  .string()
  .regex(/^whk_[A-Za-z0-9_-]+$/)
  .describe('Webhook subscription id');
