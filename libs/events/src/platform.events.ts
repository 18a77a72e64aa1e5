import { z } from 'zod';
import type { EventDefinition } from './catalogue';
import { isoDateTime, metadata, subscriptionId } from './schema-parts';

// The platform's own state changes, so the audit log is complete. None of them ever carries a secret.
const scope = z.enum(['read', 'write', 'admin']);
const apiKeyId = z.string().regex(/^key_[A-Za-z0-9_-]+$/);
const url = z.string().url().max(2048);
const eventTypePatterns = z.array(z.string().min(1).max(128)).min(1);
const versionPins = z
  .record(z.string(), z.number().int().min(1))
  .describe('Event type → pinned schema version');
const status = z.enum(['active', 'disabled']);

const subscriptionFields = {
  url,
  eventTypes: eventTypePatterns,
  description: z.string().max(500).nullable(),
  metadata,
  versionPins,
  status,
  strictOrdering: z.boolean(),
};

const sub = 'whk_01JD3Z9QXW';
const subUrl = 'https://example.com/webhooks/tidings';
const createdExampleV1 = {
  subscriptionId: sub,
  url: subUrl,
  eventTypes: ['order.*'],
  description: 'Fulfilment service',
  metadata: {},
  versionPins: { 'order.created': 1 },
  status: 'active' as const,
  strictOrdering: false,
};

export const tenantCreatedV1 = z.strictObject({
  tenantId: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
});
export const apiKeyCreatedV1 = z.strictObject({
  apiKeyId,
  name: z.string().min(1).max(200),
  scopes: z.array(scope).min(1),
  prefix: z.string().max(64),
});
export const apiKeyRevokedV1 = z.strictObject({ apiKeyId, revokedAt: isoDateTime });
export const webhookSubscriptionCreatedV1 = z.strictObject({ subscriptionId, ...subscriptionFields });
const maxInFlight = z
  .number()
  .int()
  .min(1)
  .max(1_000)
  .nullable()
  .describe(
    "Requests open at once to the endpoint per dispatcher process; null: the operator's default (16 unless configured)",
  );
export const webhookSubscriptionCreatedV2 = webhookSubscriptionCreatedV1.extend({ maxInFlight });
const changedFieldsV1 = {
  url: url.optional(),
  eventTypes: eventTypePatterns.optional(),
  description: z.string().max(500).nullable().optional(),
  metadata: metadata.optional(),
  versionPins: versionPins.optional(),
  status: status.optional(),
  strictOrdering: z.boolean().optional(),
};
const atLeastOne = (c: object) => Object.keys(c).length > 0;
export const webhookSubscriptionUpdatedV1 = z.strictObject({
  subscriptionId,
  changes: z.strictObject(changedFieldsV1).refine(atLeastOne, 'changes must name at least one field'),
});
export const webhookSubscriptionUpdatedV2 = z.strictObject({
  subscriptionId,
  changes: z
    .strictObject({ ...changedFieldsV1, maxInFlight: maxInFlight.optional() })
    .refine(atLeastOne, 'changes must name at least one field'),
});
export const webhookSubscriptionDeletedV1 = z.strictObject({ subscriptionId, deletedAt: isoDateTime });
export const webhookSubscriptionSecretRotatedV1 = z.strictObject({
  subscriptionId,
  rotatedAt: isoDateTime,
  previousSecretExpiresAt: isoDateTime,
});
export const webhookSubscriptionFailingV1 = z.strictObject({
  subscriptionId,
  url,
  consecutiveFailures: z.number().int().min(1),
  threshold: z.number().int().min(1),
  lastError: z.string().max(1000).nullable(),
});
export const webhookSubscriptionDisabledV1 = z.strictObject({
  subscriptionId,
  url,
  reason: z.enum(['consecutive_failures', 'gone', 'manual']),
  consecutiveFailures: z.number().int().min(0),
});
export const webhookSubscriptionEnabledV1 = z.strictObject({
  subscriptionId,
  url,
  replayFrom: isoDateTime.nullable(),
});
export const webhookDeliveryExhaustedV1 = z.strictObject({
  subscriptionId,
  deliveryId: z.string().min(1).max(64),
  eventId: z.uuid(),
  eventType: z.string().min(1).max(128),
  attempts: z.number().int().min(1),
  lastError: z.string().max(1000).nullable(),
});
export const webhookTestV1 = z.strictObject({ subscriptionId, message: z.string().max(500) });

export type TenantCreatedV1 = z.infer<typeof tenantCreatedV1>;
export type ApiKeyCreatedV1 = z.infer<typeof apiKeyCreatedV1>;
export type ApiKeyRevokedV1 = z.infer<typeof apiKeyRevokedV1>;
export type WebhookSubscriptionCreatedV1 = z.infer<typeof webhookSubscriptionCreatedV1>;
export type WebhookSubscriptionCreatedV2 = z.infer<typeof webhookSubscriptionCreatedV2>;
export type WebhookSubscriptionUpdatedV1 = z.infer<typeof webhookSubscriptionUpdatedV1>;
export type WebhookSubscriptionUpdatedV2 = z.infer<typeof webhookSubscriptionUpdatedV2>;
export type WebhookSubscriptionDeletedV1 = z.infer<typeof webhookSubscriptionDeletedV1>;
export type WebhookSubscriptionSecretRotatedV1 = z.infer<typeof webhookSubscriptionSecretRotatedV1>;
export type WebhookSubscriptionFailingV1 = z.infer<typeof webhookSubscriptionFailingV1>;
export type WebhookSubscriptionDisabledV1 = z.infer<typeof webhookSubscriptionDisabledV1>;
export type WebhookSubscriptionEnabledV1 = z.infer<typeof webhookSubscriptionEnabledV1>;
export type WebhookDeliveryExhaustedV1 = z.infer<typeof webhookDeliveryExhaustedV1>;
export type WebhookTestV1 = z.infer<typeof webhookTestV1>;

export const PLATFORM_EVENTS: EventDefinition[] = [
  {
    type: 'tenant.created',
    resourceType: 'tenant',
    description: 'A tenant was created by the platform operator.',
    versions: [
      {
        version: 1,
        description: 'Tenant id and name.',
        schema: tenantCreatedV1,
        example: { tenantId: 'ten_01JD3Z', name: 'Acme' },
      },
    ],
  },
  {
    type: 'api_key.created',
    resourceType: 'api_key',
    description: 'An API key was issued. The key itself is shown once to its creator and never recorded.',
    versions: [
      {
        version: 1,
        description: 'Key id, name, scopes and its public prefix.',
        schema: apiKeyCreatedV1,
        example: {
          apiKeyId: 'key_AbCdEf123',
          name: 'ci',
          scopes: ['read', 'write'],
          prefix: 'tdk_AbCdEf123',
        },
      },
    ],
  },
  {
    type: 'api_key.revoked',
    resourceType: 'api_key',
    description: 'An API key was revoked; it no longer authenticates.',
    versions: [
      {
        version: 1,
        description: 'Key id and revocation time.',
        schema: apiKeyRevokedV1,
        example: { apiKeyId: 'key_AbCdEf123', revokedAt: '2026-11-28T15:00:00.000Z' },
      },
    ],
  },
  {
    type: 'webhook.subscription.created',
    resourceType: 'webhook',
    description: 'A webhook subscription was created (its signing secret is not part of the event).',
    versions: [
      {
        version: 1,
        description: 'The subscription as created.',
        schema: webhookSubscriptionCreatedV1,
        example: createdExampleV1,
      },
      {
        version: 2,
        description:
          "Adds maxInFlight: the subscription's own concurrency, null when it follows the operator's default.",
        schema: webhookSubscriptionCreatedV2,
        example: { ...createdExampleV1, maxInFlight: null },
        // Subscriptions created before the field existed follow the operator's default.
        upcastFrom: (v1) => ({ ...(v1 as WebhookSubscriptionCreatedV1), maxInFlight: null }),
        downcastTo: (v2) => {
          const { maxInFlight: _dropped, ...v1 } = v2 as WebhookSubscriptionCreatedV2;
          return v1;
        },
      },
    ],
  },
  {
    type: 'webhook.subscription.updated',
    resourceType: 'webhook',
    description: 'A webhook subscription changed; `changes` holds the new values of the changed fields.',
    versions: [
      {
        version: 1,
        description: 'Changed fields with their new values.',
        schema: webhookSubscriptionUpdatedV1,
        example: { subscriptionId: sub, changes: { eventTypes: ['order.*', 'message.received'] } },
      },
      {
        version: 2,
        description:
          'Changes may name maxInFlight. At v1 it is left out; a change of maxInFlight alone renders at v1 as ' +
          'empty `changes` (v1 cannot name the field).',
        schema: webhookSubscriptionUpdatedV2,
        example: { subscriptionId: sub, changes: { maxInFlight: 32, strictOrdering: true } },
        upcastFrom: (v1) => v1,
        downcastTo: (v2) => {
          const { subscriptionId: id, changes } = v2 as WebhookSubscriptionUpdatedV2;
          const { maxInFlight: _dropped, ...v1Changes } = changes;
          return { subscriptionId: id, changes: v1Changes };
        },
      },
    ],
  },
  {
    type: 'webhook.subscription.deleted',
    resourceType: 'webhook',
    description: 'A webhook subscription was deleted; nothing more is delivered to it.',
    versions: [
      {
        version: 1,
        description: 'Deletion time.',
        schema: webhookSubscriptionDeletedV1,
        example: { subscriptionId: sub, deletedAt: '2026-11-28T16:00:00.000Z' },
      },
    ],
  },
  {
    type: 'webhook.subscription.secret_rotated',
    resourceType: 'webhook',
    description:
      'The signing secret was rotated; the previous one keeps signing until previousSecretExpiresAt.',
    versions: [
      {
        version: 1,
        description: 'Rotation time and end of the grace period.',
        schema: webhookSubscriptionSecretRotatedV1,
        example: {
          subscriptionId: sub,
          rotatedAt: '2026-11-28T16:00:00.000Z',
          previousSecretExpiresAt: '2026-11-29T16:00:00.000Z',
        },
      },
    ],
  },
  {
    type: 'webhook.subscription.failing',
    resourceType: 'webhook',
    description: 'Warning: deliveries to this endpoint keep failing; it will be disabled at the threshold.',
    versions: [
      {
        version: 1,
        description: 'Consecutive failures so far and the disabling threshold.',
        schema: webhookSubscriptionFailingV1,
        example: {
          subscriptionId: sub,
          url: subUrl,
          consecutiveFailures: 3,
          threshold: 5,
          lastError: 'HTTP 500',
        },
      },
    ],
  },
  {
    type: 'webhook.subscription.disabled',
    resourceType: 'webhook',
    description: 'The subscription was disabled; events are no longer delivered until it is re-enabled.',
    versions: [
      {
        version: 1,
        description: 'Why it was disabled.',
        schema: webhookSubscriptionDisabledV1,
        example: { subscriptionId: sub, url: subUrl, reason: 'consecutive_failures', consecutiveFailures: 5 },
      },
    ],
  },
  {
    type: 'webhook.subscription.enabled',
    resourceType: 'webhook',
    description: 'The subscription was re-enabled, optionally replaying what it missed since replayFrom.',
    versions: [
      {
        version: 1,
        description: 'Replay start, if any.',
        schema: webhookSubscriptionEnabledV1,
        example: { subscriptionId: sub, url: subUrl, replayFrom: '2026-11-28T10:00:00.000Z' },
      },
    ],
  },
  {
    type: 'webhook.delivery.exhausted',
    resourceType: 'webhook',
    description: 'A delivery failed every attempt of its retry schedule and became a dead letter.',
    versions: [
      {
        version: 1,
        description: 'The dead delivery and its event.',
        schema: webhookDeliveryExhaustedV1,
        example: {
          subscriptionId: sub,
          deliveryId: 'dlv_01JD3ZB2',
          eventId: '0193a4e2-7b1c-7d4e-8f00-123456789abc',
          eventType: 'order.created',
          attempts: 6,
          lastError: 'HTTP 503',
        },
      },
    ],
  },
  {
    type: 'webhook.test',
    resourceType: 'webhook',
    description: 'A test event sent on request to check an endpoint.',
    versions: [
      {
        version: 1,
        description: 'A human-readable message.',
        schema: webhookTestV1,
        example: { subscriptionId: sub, message: 'Hello from Tidings' },
      },
    ],
  },
];
