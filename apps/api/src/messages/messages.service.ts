import { Injectable } from '@nestjs/common';
import { appendEvent, type Tx } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { inSpan, NotFoundProblem } from '@tidings/runtime';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { decodeTimeCursor, encodeTimeCursor } from '../http/cursor';
import type { MutationRequest } from '../http/request.decorator';
import { IdempotencyService } from '../idempotency/idempotency.service';
import type { CreateMessageDto, ListMessagesQuery } from './messages.dto';

export interface MessageView {
  id: string;
  from: string;
  channel: string;
  body: string;
  metadata: Record<string, string>;
  version: number;
  createdAt: string;
}

interface MessageRow {
  id: string;
  sender: string;
  channel: string;
  body: string;
  metadata: Record<string, string>;
  version: number;
  created_at: Date;
}

const view = (r: MessageRow): MessageView => ({
  id: r.id,
  from: r.sender,
  channel: r.channel,
  body: r.body,
  metadata: r.metadata,
  version: r.version,
  createdAt: r.created_at.toISOString(),
});

/** Messages: the second resource, on its own topic (events.message). Same transaction rule as orders. */
@Injectable()
export class MessagesService {
  constructor(
    private readonly ds: DataSource,
    private readonly idempotency: IdempotencyService,
  ) {}

  create(t: TenantCtx, dto: CreateMessageDto, req: MutationRequest) {
    return inSpan('transaction message.create', { parent: req.traceparent }, (span) =>
      this.idempotency.execute(
        { tenantId: t.tenantId, key: req.idempotencyKey, method: 'POST', path: req.path, body: req.body },
        async (tx) => {
          const id = `msg_${uuidv7().replace(/-/g, '')}`;
          const now = new Date();
          const metadata = dto.metadata ?? {};
          const [row] = (await tx.query(
            `INSERT INTO messages (id, tenant_id, sender, channel, body, metadata, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7) RETURNING *`,
            [id, t.tenantId, dto.from, dto.channel, dto.body, JSON.stringify(metadata), now],
          )) as MessageRow[];
          await appendEvent(
            tx,
            buildEvent({
              eventType: 'message.received',
              tenantId: t.tenantId,
              resourceId: id,
              sequence: 1,
              source: 'tidings/api',
              timestamp: now,
              data: { messageId: id, from: dto.from, channel: dto.channel, body: dto.body, metadata },
            }),
            span.traceparent,
          );
          return { status: 201, body: view(row) };
        },
      ),
    );
  }

  async get(t: TenantCtx, id: string): Promise<MessageView> {
    const [row] = (await this.ds.query(
      'SELECT * FROM messages WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL',
      [id, t.tenantId],
    )) as MessageRow[];
    if (!row) throw new NotFoundProblem('Message', id);
    return view(row);
  }

  async list(
    t: TenantCtx,
    q: ListMessagesQuery,
  ): Promise<{ data: MessageView[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    const params: unknown[] = [t.tenantId];
    const where = ['tenant_id = $1', 'deleted_at IS NULL'];
    if (q.channel) {
      params.push(q.channel);
      where.push(`channel = $${params.length}`);
    }
    const c = decodeTimeCursor(q.cursor, 'msg_');
    if (c) {
      params.push(c.createdAt, c.id);
      where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit + 1);
    const rows = (await this.ds.query(
      `SELECT * FROM messages WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )) as MessageRow[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map(view),
      nextCursor: rows.length > limit && last ? encodeTimeCursor(last.created_at, last.id) : null,
    };
  }

  delete(t: TenantCtx, id: string, req: MutationRequest): Promise<void> {
    return inSpan('transaction message.delete', { parent: req.traceparent }, (span) =>
      this.ds.transaction(async (em) => {
        const tx = em as Tx;
        const [row] = (await tx.query(
          'SELECT version FROM messages WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL FOR UPDATE',
          [id, t.tenantId],
        )) as {
          version: number;
        }[];
        if (!row) throw new NotFoundProblem('Message', id);
        const now = new Date();
        const version = row.version + 1;
        await tx.query('UPDATE messages SET deleted_at = $3, version = $4 WHERE id = $1 AND tenant_id = $2', [
          id,
          t.tenantId,
          now,
          version,
        ]);
        await appendEvent(
          tx,
          buildEvent({
            eventType: 'message.deleted',
            tenantId: t.tenantId,
            resourceId: id,
            sequence: version,
            source: 'tidings/api',
            timestamp: now,
            data: { messageId: id, deletedAt: now.toISOString() },
          }),
          span.traceparent,
        );
      }),
    );
  }
}
