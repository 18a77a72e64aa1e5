import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'messages' })
@Index('messages_tenant_created_idx', ['tenantId', 'createdAt', 'id'])
export class MessageEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'text' })
  tenantId!: string;

  @Column({ name: 'sender', type: 'text' })
  from!: string;

  @Column({ type: 'text' })
  channel!: string;

  @Column({ type: 'text' })
  body!: string;

  @Column({ type: 'jsonb' })
  metadata!: Record<string, string>;

  @Column({ type: 'int' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
