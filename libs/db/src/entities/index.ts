import { ApiKeyEntity } from './api-key.entity';
import { EventLogEntity } from './event-log.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { MessageEntity } from './message.entity';
import { OrderEntity } from './order.entity';
import { OutboxEntity, RelayMemberEntity, RelayShardEntity, TenantPositionEntity } from './outbox.entity';
import { StreamTokenEntity } from './stream-token.entity';
import { TenantEntity } from './tenant.entity';
import { WebhookAttemptEntity, WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookSubscriptionEntity } from './webhook-subscription.entity';

export * from './api-key.entity';
export * from './event-log.entity';
export * from './idempotency-key.entity';
export * from './message.entity';
export * from './order.entity';
export * from './outbox.entity';
export * from './stream-token.entity';
export * from './tenant.entity';
export * from './webhook-delivery.entity';
export * from './webhook-subscription.entity';

/** Every entity, listed explicitly (no globs): the DataSource, the CLI and the drift check share it. */
export const ENTITIES = [
  TenantEntity,
  ApiKeyEntity,
  StreamTokenEntity,
  OrderEntity,
  MessageEntity,
  EventLogEntity,
  OutboxEntity,
  RelayShardEntity,
  RelayMemberEntity,
  TenantPositionEntity,
  IdempotencyKeyEntity,
  WebhookSubscriptionEntity,
  WebhookDeliveryEntity,
  WebhookAttemptEntity,
];
