import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Read-only credentials for the SSE gateway (EventSource cannot send headers, so they travel in
 * `access_token`). Stored hashed like API keys; optionally limited to event-type patterns; always expire.
 */
@Entity({ name: 'stream_tokens' })
export class StreamTokenEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Index('stream_tokens_hash_uq', { unique: true })
  @Column({ name: 'token_hash', type: 'text' })
  tokenHash!: string;

  /** Event-type patterns (`order.*`, exact types, `*`) this token may stream. */
  @Column({ name: 'event_types', type: 'text', array: true })
  eventTypes!: string[];

  @Column({ name: 'api_key_id', type: 'text' })
  apiKeyId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
