import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './event-log.entity';

/**
 * Relay bookkeeping for one committed event: unpositioned → positioned → published, or positioned → parked
 * (the broker refused it as too large, or an earlier event of its resource is parked) → published once the
 * relay's retry gets it through. Rows are deleted by retention once published; the event itself stays in
 * `event_log` forever.
 */
@Entity({ name: 'outbox' })
@Index('outbox_unpositioned_idx', ['id'], { where: 'position IS NULL' })
@Index('outbox_unpublished_idx', ['position'], {
  where: 'position IS NOT NULL AND published_at IS NULL AND parked_at IS NULL',
})
@Index('outbox_parked_idx', ['position'], { where: 'parked_at IS NOT NULL AND published_at IS NULL' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index('outbox_event_log_id_uq', { unique: true })
  @Column({ name: 'event_log_id', type: 'bigint', transformer: bigintNumber })
  eventLogId!: number;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  position!: number | null;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  @Column({ name: 'parked_at', type: 'timestamptz', nullable: true })
  parkedAt!: Date | null;

  @Column({ name: 'parked_reason', type: 'text', nullable: true })
  parkedReason!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** The sequencer's cursor: one row, updated in the same transaction that assigns positions. */
@Entity({ name: 'sequencer_state' })
export class SequencerStateEntity {
  @Column({ type: 'int', primary: true })
  id!: number;

  @Column({ name: 'last_position', type: 'bigint', transformer: bigintNumber })
  lastPosition!: number;
}
