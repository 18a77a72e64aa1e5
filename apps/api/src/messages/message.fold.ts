import type { MessageEntity } from '@tidings/db';
import { atLatestVersion, type EventEnvelope, isResourceEvent } from '@tidings/events';

/** A message as the projection stores it; folding its events yields exactly this, field by field. */
export type MessageState = Pick<
  MessageEntity,
  'id' | 'tenantId' | 'from' | 'channel' | 'body' | 'metadata' | 'version' | 'createdAt' | 'deletedAt'
>;

export class MessageFoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageFoldError';
  }
}

/** Folds one event into the message's state (same rules as orders: latest version, gapless sequence). */
export function applyMessageEvent(state: MessageState | null, raw: EventEnvelope): MessageState {
  const event = atLatestVersion(raw);
  const expected = (state?.version ?? 0) + 1;
  if (!isResourceEvent(event, 'message') || event.sequence !== expected) {
    throw new MessageFoldError(
      `message ${event.resourceId}: expected message event at sequence ${expected}, got ` +
        `${event.eventType} at ${event.sequence} (event ${event.eventId})`,
    );
  }
  switch (event.eventType) {
    case 'message.received': {
      if (state) throw new MessageFoldError(`message ${event.resourceId} is received twice`);
      const d = event.data;
      return {
        id: event.resourceId,
        tenantId: event.tenantId,
        from: d.from,
        channel: d.channel,
        body: d.body,
        metadata: d.metadata,
        version: event.sequence,
        createdAt: new Date(event.timestamp),
        deletedAt: null,
      };
    }
    case 'message.deleted': {
      if (!state || state.deletedAt) {
        throw new MessageFoldError(`message ${event.resourceId}: deleted before received or twice`);
      }
      return { ...state, version: event.sequence, deletedAt: new Date(event.data.deletedAt) };
    }
  }
}
