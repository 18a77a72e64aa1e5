import { Injectable } from '@nestjs/common';
import type { TenantCtx } from '../auth/tenant.decorator';
import type { MutationRequest } from '../http/request.decorator';
import { ResourcesService, type Filter } from '../resources/resources.service';
import { MESSAGE, type MessageView } from './message.resource';
import type { CreateMessageDto, ListMessagesQuery } from './messages.dto';

/** Messages: the second resource, on its own topic (events.message), on the same kit as orders. */
@Injectable()
export class MessagesService {
  constructor(private readonly resources: ResourcesService) {}

  create(t: TenantCtx, dto: CreateMessageDto, req: MutationRequest) {
    return this.resources.create(MESSAGE, t, req, (id) => ({
      eventType: 'message.received',
      data: {
        messageId: id,
        from: dto.from,
        channel: dto.channel,
        body: dto.body,
        metadata: dto.metadata ?? {},
      },
    }));
  }

  get(t: TenantCtx, id: string): Promise<MessageView> {
    return this.resources.get(MESSAGE, t, id);
  }

  list(t: TenantCtx, q: ListMessagesQuery) {
    const filters: Filter[] = q.channel ? [['channel = ?', q.channel]] : [];
    return this.resources.list(MESSAGE, t, q, filters);
  }

  async delete(t: TenantCtx, id: string, req: MutationRequest): Promise<void> {
    // Messages are never edited, so DELETE /messages/:id documents no If-Match and ignores one.
    const unconditional = { ...req, ifMatch: undefined };
    await this.resources.change(
      MESSAGE,
      t,
      id,
      unconditional,
      { name: 'delete', idempotent: false },
      (_m, at) => ({
        eventType: 'message.deleted',
        data: { messageId: id, deletedAt: at.toISOString() },
      }),
    );
  }
}
