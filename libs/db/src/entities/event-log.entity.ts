import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** bigint columns as JS numbers: positions and ids stay far below 2^53. */
export const bigintNumber = {
  to: (v: number | null) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/**
 * The permanent, tenant-scoped audit log. `id` is insertion order and is never exposed: it is NOT commit
 * order. `position` is the tenant's dense order (1, 2, 3… per tenant) assigned by the outbox relay after
 * commit (docs/architecture.md, "Positions"), so (tenant_id, position) is unique and is every reader's cursor.
 * (resource_type, resource_id, sequence) is unique, so a resource can never hold two events at one version.
 */
@Entity({ name: 'event_log' })
@Index('event_log_resource_seq_uq', ['resourceType', 'resourceId', 'sequence'], { unique: true })
@Index('event_log_tenant_position_uq', ['tenantId', 'position'], { unique: true })
export class EventLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index('event_log_event_id_uq', { unique: true })
  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType!: string;

  @Column({ type: 'int' })
  version!: number;

  @Column({ name: 'resource_type', type: 'text' })
  resourceType!: string;

  @Column({ name: 'resource_id', type: 'text' })
  resourceId!: string;

  @Column({ type: 'int' })
  sequence!: number;

  @Column({ type: 'text' })
  source!: string;

  /** The envelope's `timestamp`, kept as the exact ISO string so every transport renders identical bytes. */
  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ type: 'jsonb' })
  data!: unknown;

  @Column({ type: 'text', nullable: true })
  traceparent!: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  position!: number | null;
}
