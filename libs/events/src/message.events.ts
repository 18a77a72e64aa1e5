import { z } from 'zod';
import type { EventDefinition } from './catalogue';
import { isoDateTime, messageId, metadata } from './schema-parts';

export const messageReceivedV1 = z.strictObject({
  messageId,
  from: z.string().min(1).max(256),
  channel: z.string().min(1).max(128),
  body: z.string().max(65_536),
  metadata,
});
export const messageDeletedV1 = z.strictObject({ messageId, deletedAt: isoDateTime });

export type MessageReceivedV1 = z.infer<typeof messageReceivedV1>;
export type MessageDeletedV1 = z.infer<typeof messageDeletedV1>;

export const MESSAGE_EVENTS: EventDefinition[] = [
  {
    type: 'message.received',
    resourceType: 'message',
    description: 'A message arrived on a channel.',
    versions: [
      {
        version: 1,
        description: 'Sender, channel and body (at most 64 KiB).',
        schema: messageReceivedV1,
        example: {
          messageId: 'msg_01JD3Z0A1B',
          from: 'alice@example.com',
          channel: 'support',
          body: 'Where is my order?',
          metadata: {},
        },
      },
    ],
  },
  {
    type: 'message.deleted',
    resourceType: 'message',
    description: 'A message was deleted.',
    versions: [
      {
        version: 1,
        description: 'Deletion time.',
        schema: messageDeletedV1,
        example: { messageId: 'msg_01JD3Z0A1B', deletedAt: '2026-11-28T14:00:00.000Z' },
      },
    ],
  },
];
