import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintNumber } from './event-log.entity';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead';

/** Why a delivery is a dead letter. */
export type DeadReason = 'retries_exhausted' | 'subscription_disabled' | 'subscription_deleted';

/**
 * One delivery per (subscription, event): the unique key makes recording idempotent, so a redelivered
 * Kafka message never doubles a webhook. `failed` = waiting for its next attempt; `dead` = dead letter.
 */
@Entity({ name: 'webhook_deliveries' })
@Index('webhook_deliveries_sub_event_uq', ['subscriptionId', 'eventId'], { unique: true })
@Index('webhook_deliveries_due_idx', ['nextAttemptAt'], { where: "status IN ('pending', 'failed')" })
@Index('webhook_deliveries_sub_created_idx', ['subscriptionId', 'createdAt', 'id'])
@Index('webhook_deliveries_tenant_status_idx', ['tenantId', 'status'])
// The dead-letter publisher's queue: dead letters not yet on the dead-letter topic.
@Index('webhook_deliveries_dlq_unpublished_idx', ['deadAt'], {
  where: "status = 'dead' AND dlq_published_at IS NULL",
})
// The dispatcher's ordering check: "is an earlier delivery of this subscription and resource still open?"
@Index('webhook_deliveries_open_resource_idx', ['subscriptionId', 'resourceId', 'sequence'], {
  where: "status IN ('pending', 'failed')",
})
export class WebhookDeliveryEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Column({ name: 'subscription_id', type: 'text' })
  subscriptionId!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType!: string;

  @Column({ name: 'event_position', type: 'bigint', transformer: bigintNumber })
  eventPosition!: number;

  @Column({ name: 'resource_id', type: 'text' })
  resourceId!: string;

  @Column({ type: 'int' })
  sequence!: number;

  @Column({ type: 'text' })
  status!: DeliveryStatus;

  @Column({ name: 'attempt_count', type: 'int', default: 0 })
  attemptCount!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ name: 'last_attempt_at', type: 'timestamptz', nullable: true })
  lastAttemptAt!: Date | null;

  @Column({ name: 'last_status_code', type: 'int', nullable: true })
  lastStatusCode!: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'dead_at', type: 'timestamptz', nullable: true })
  deadAt!: Date | null;

  @Column({ name: 'dead_reason', type: 'text', nullable: true })
  deadReason!: DeadReason | null;

  /** When the dead letter reached the dead-letter topic (the delivery row is the outbox for that topic). */
  @Column({ name: 'dlq_published_at', type: 'timestamptz', nullable: true })
  dlqPublishedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** Every HTTP attempt of a delivery, for the delivery log. */
@Entity({ name: 'webhook_attempts' })
@Index('webhook_attempts_delivery_idx', ['deliveryId', 'attemptedAt'])
export class WebhookAttemptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'delivery_id', type: 'text' })
  deliveryId!: string;

  @Column({ name: 'attempt_number', type: 'int' })
  attemptNumber!: number;

  @Column({ name: 'attempted_at', type: 'timestamptz' })
  attemptedAt!: Date;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode!: number | null;

  @Column({ name: 'duration_ms', type: 'int' })
  durationMs!: number;

  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody!: string | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;
}
