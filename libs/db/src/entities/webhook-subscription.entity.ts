import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export interface SigningSecret {
  secret: string;
  /** null = current secret; a date = a rotated-out secret that keeps signing until then. */
  expiresAt: string | null;
}

export type SubscriptionStatus = 'active' | 'disabled';

/**
 * `endpoint`: an event subscription (`/webhooks`). `alert`: the tenant's alert endpoint (`/alert-endpoint`),
 * which receives only the operational events and never has health of its own (so it cannot alert about itself).
 */
export type SubscriptionKind = 'endpoint' | 'alert';

@Entity({ name: 'webhook_subscriptions' })
@Index('webhook_subscriptions_tenant_idx', ['tenantId', 'createdAt', 'id'])
// At most one alert endpoint per tenant.
@Index('webhook_subscriptions_alert_uq', ['tenantId'], {
  unique: true,
  where: "kind = 'alert' AND deleted_at IS NULL",
})
export class WebhookSubscriptionEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Column({ type: 'text' })
  url!: string;

  @Column({ name: 'event_types', type: 'text', array: true })
  eventTypes!: string[];

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'jsonb' })
  metadata!: Record<string, string>;

  @Column({ name: 'version_pins', type: 'jsonb' })
  versionPins!: Record<string, number>;

  @Column({ name: 'strict_ordering', type: 'boolean', default: false })
  strictOrdering!: boolean;

  /** Requests open at once to this endpoint per dispatcher process; null = the operator's default (libs/webhooks). */
  @Column({ name: 'max_in_flight', type: 'int', nullable: true })
  maxInFlight!: number | null;

  @Column({ type: 'text' })
  status!: SubscriptionStatus;

  @Column({ name: 'disabled_reason', type: 'text', nullable: true })
  disabledReason!: string | null;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  @Column({ type: 'jsonb' })
  secrets!: SigningSecret[];

  @Column({ type: 'text', default: 'endpoint' })
  kind!: SubscriptionKind;

  /** Failed attempts answered after the last success (answer order; libs/webhooks health rules). */
  @Column({ name: 'consecutive_failures', type: 'int', default: 0 })
  consecutiveFailures!: number;

  /** Deliveries dead-lettered (retries exhausted) after the last success: the disable rule counts these. */
  @Column({ name: 'consecutive_dead_letters', type: 'int', default: 0 })
  consecutiveDeadLetters!: number;

  /** When the current failing streak began (its first failure's answer); null while healthy. */
  @Column({ name: 'failing_since', type: 'timestamptz', nullable: true })
  failingSince!: Date | null;

  /** Whether `webhook.subscription.failing` was sent for the current failing streak (once per streak). */
  @Column({ name: 'failing_warned', type: 'boolean', default: false })
  failingWarned!: boolean;

  /** When the endpoint last answered 2xx (the answer's time, not when it was recorded). */
  @Column({ name: 'last_success_at', type: 'timestamptz', nullable: true })
  lastSuccessAt!: Date | null;

  @Column({ name: 'last_failure_at', type: 'timestamptz', nullable: true })
  lastFailureAt!: Date | null;

  @Column({ type: 'int' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
