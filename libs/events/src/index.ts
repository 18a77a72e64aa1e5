export * from './envelope';
export * from './catalogue';
export * from './event-type-pattern';
export * from './kafka-mapping';
export * from './asyncapi';
export * from './catalogue-markdown';
export { currencyExponent } from './order.events';
export type {
  OrderCreatedV1,
  OrderCreatedV2,
  OrderUpdatedV1,
  OrderPaymentReceivedV1,
  OrderShippedV1,
  OrderDeliveredV1,
  OrderCancelledV1,
  OrderDeletedV1,
} from './order.events';
export type { MessageReceivedV1, MessageDeletedV1 } from './message.events';
export type {
  TenantCreatedV1,
  ApiKeyCreatedV1,
  ApiKeyRevokedV1,
  WebhookSubscriptionCreatedV1,
  WebhookSubscriptionCreatedV2,
  WebhookSubscriptionUpdatedV1,
  WebhookSubscriptionUpdatedV2,
  WebhookSubscriptionDeletedV1,
  WebhookSubscriptionSecretRotatedV1,
  WebhookSubscriptionFailingV1,
  WebhookSubscriptionDisabledV1,
  WebhookSubscriptionEnabledV1,
  WebhookDeliveryExhaustedV1,
  WebhookTestV1,
} from './platform.events';
