import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export const API_KEY_SCOPES = ['read', 'write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Only a SHA-256 of the secret is stored; the key itself is shown once, at creation. */
@Entity({ name: 'api_keys' })
@Index('api_keys_tenant_idx', ['tenantId'])
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Column({ type: 'text' })
  name!: string;

  /** Public, non-secret part of the key (e.g. `tdk_live_AbCd`), used to find the row. */
  @Index('api_keys_prefix_uq', { unique: true })
  @Column({ type: 'text' })
  prefix!: string;

  @Column({ name: 'secret_hash', type: 'text' })
  secretHash!: string;

  @Column({ type: 'text', array: true })
  scopes!: ApiKeyScope[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
