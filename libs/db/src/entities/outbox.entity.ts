import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './event-log.entity';

/**
 * Relay bookkeeping for one committed event: unsequenced → sequenced → published, or sequenced → parked
 * (the broker refused it as too large, or an earlier event of its resource is parked) → published once the
 * relay's retry gets it through. Sequencing gives the event its tenant position (event_log.position) and
 * `seq`, the relay's own publish order: internal, never shown to anyone, and in every tenant's position
 * order. Rows are deleted by retention once published; the event itself stays in `event_log` forever.
 */
@Entity({ name: 'outbox' })
@Index('outbox_unpositioned_idx', ['shard', 'id'], { where: 'seq IS NULL' })
@Index('outbox_unpublished_idx', ['shard', 'seq'], {
  where: 'seq IS NOT NULL AND published_at IS NULL AND parked_at IS NULL',
})
@Index('outbox_parked_idx', ['shard', 'seq'], { where: 'parked_at IS NOT NULL AND published_at IS NULL' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  // Not indexed: nothing looks an outbox row up by its event (the relay joins outbox → event_log by the log's
  // primary key), and appendEvent writes exactly one row per event. An index here took an entry on the insert and
  // on each of the row's two updates, neither HOT (docs/benchmarks.md, "Postgres per event").
  @Column({ name: 'event_log_id', type: 'bigint', transformer: bigintNumber })
  eventLogId!: number;

  /** The event's tenant (a copy of event_log.tenant_id): the sequencer numbers each tenant on its own. */
  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  /** The tenant's sequencing shard, `tidings_shard(tenant_id)` at insert (see RelayShardEntity). */
  @Column({ type: 'int' })
  shard!: number;

  /** The relay's publish order within the shard; every tenant's positions ascend with it. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  seq!: number | null;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  @Column({ name: 'parked_at', type: 'timestamptz', nullable: true })
  parkedAt!: Date | null;

  @Column({ name: 'parked_reason', type: 'text', nullable: true })
  parkedReason!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/**
 * One sequencing shard. Tenants map to shards by `tidings_shard(tenant_id)` (a stable hash modulo the number
 * of rows here); one relay at a time sequences and publishes a shard: the holder of its lease. `token` is
 * raised on every acquisition and fences sequencing (a transaction commits only under the token its relay was
 * given), so a deposed holder cannot write positions. `last_seq` is the shard's publish-order cursor.
 */
@Entity({ name: 'relay_shards' })
export class RelayShardEntity {
  @Column({ type: 'int', primary: true })
  shard!: number;

  @Column({ name: 'last_seq', type: 'bigint', transformer: bigintNumber })
  lastSeq!: number;

  @Column({ type: 'text', nullable: true })
  holder!: string | null;

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber })
  token!: number;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;
}

/** A live relay process (heartbeat): relays count each other to take a fair share of the shards. */
@Entity({ name: 'relay_members' })
export class RelayMemberEntity {
  @Column({ type: 'text', primary: true })
  id!: string;

  @Column({ name: 'seen_until', type: 'timestamptz' })
  seenUntil!: Date;
}

/**
 * A tenant's last assigned position: the next event of the tenant gets `last_position + 1`. Written only by
 * the sequencer, in the transaction that writes the positions, so it is also the tenant's committed head.
 */
@Entity({ name: 'tenant_positions' })
export class TenantPositionEntity {
  @Column({ name: 'tenant_id', type: 'text', primary: true })
  tenantId!: string;

  @Column({ name: 'last_position', type: 'bigint', transformer: bigintNumber })
  lastPosition!: number;
}
