import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export interface SigningSecret {
  secret: string;
  /** null = current secret; a date = a rotated-out secret that keeps signing until then. */
  expiresAt: string | null;
}

export type SubscriptionStatus = 'active' | 'disabled';

@Entity({ name: 'webhook_subscriptions' })
@Index('webhook_subscriptions_tenant_idx', ['tenantId', 'createdAt', 'id'])
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

  @Column({ type: 'text' })
  status!: SubscriptionStatus;

  @Column({ name: 'disabled_reason', type: 'text', nullable: true })
  disabledReason!: string | null;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  @Column({ type: 'jsonb' })
  secrets!: SigningSecret[];

  @Column({ name: 'consecutive_failures', type: 'int', default: 0 })
  consecutiveFailures!: number;

  @Column({ type: 'int' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
