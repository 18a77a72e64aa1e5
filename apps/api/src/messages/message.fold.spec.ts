import { buildEvent, type EventData } from '@tidings/events';
import { applyMessageEvent, MessageFoldError } from './message.fold';

function setup() {
  const event = <T extends 'message.received' | 'message.deleted'>(
    eventType: T,
    sequence: number,
    data: Omit<EventData<T>, 'messageId'>,
  ) =>
    buildEvent<T>({
      eventType,
      tenantId: 'ten_1',
      resourceId: 'msg_1',
      sequence,
      source: 'tidings/api',
      timestamp: '2026-11-28T12:00:00.000Z',
      data: { messageId: 'msg_1', ...data } as EventData<T>,
    });
  const received = event('message.received', 1, {
    from: 'alice',
    channel: 'sms',
    body: 'hi',
    metadata: { a: 'b' },
  });
  return { event, received };
}

describe('applyMessageEvent', () => {
  it('creates the message from message.received', () => {
    const { received } = setup();
    expect(applyMessageEvent(null, received)).toEqual({
      id: 'msg_1',
      tenantId: 'ten_1',
      from: 'alice',
      channel: 'sms',
      body: 'hi',
      metadata: { a: 'b' },
      version: 1,
      createdAt: new Date('2026-11-28T12:00:00.000Z'),
      deletedAt: null,
    });
  });

  it('marks it deleted at the time message.deleted carries', () => {
    const { event, received } = setup();
    const state = applyMessageEvent(
      applyMessageEvent(null, received),
      event('message.deleted', 2, { deletedAt: '2026-11-28T12:05:00.000Z' }),
    );
    expect(state).toMatchObject({ version: 2, deletedAt: new Date('2026-11-28T12:05:00.000Z'), body: 'hi' });
  });

  it('refuses a gap, a deletion before receipt and a second receipt', () => {
    const { event, received } = setup();
    const state = applyMessageEvent(null, received);
    expect(() =>
      applyMessageEvent(state, event('message.deleted', 3, { deletedAt: '2026-11-28T12:05:00.000Z' })),
    ).toThrow(MessageFoldError);
    expect(() =>
      applyMessageEvent(null, event('message.deleted', 1, { deletedAt: '2026-11-28T12:05:00.000Z' })),
    ).toThrow(/deleted before received/);
    expect(() => applyMessageEvent(state, { ...received, sequence: 2 })).toThrow(/received twice/);
  });
});
