import { z } from 'zod';
import { defineResource, type View } from '../resources/resource';

const text = z.string();

/** The message, declared once: its row (table `messages`), its view, and its fold over the `message.*` events. */
export const MESSAGE = defineResource({
  type: 'message',
  label: 'Message',
  table: 'messages',
  idPrefix: 'msg_',
  // The `.meta()` examples are the view's in the OpenAPI document (docs/resource-schema.ts).
  state: z.object({
    id: text.meta({ example: 'msg_01a222afaee376379975dbf690303b4d' }),
    tenantId: text,
    from: text.meta({ example: 'alice@example.com' }),
    channel: text.meta({ example: 'support' }),
    body: text.meta({ example: 'Where is my order?' }),
    metadata: z.record(text, text),
    version: z.number(),
    createdAt: z.date(),
    deletedAt: z.date().nullable(),
  }),
  // `from` is a reserved word in SQL.
  columns: { from: 'sender' },
  creation: 'message.received',
  created: ({ data }) => ({
    from: data.from,
    channel: data.channel,
    body: data.body,
    metadata: data.metadata,
  }),
  on: {
    'message.deleted': (message, { data }) => ({ ...message, deletedAt: new Date(data.deletedAt) }),
  },
  deletion: 'message.deleted',
});

export type MessageState = ReturnType<typeof MESSAGE.fromRow>;
export type MessageView = View<MessageState>;
