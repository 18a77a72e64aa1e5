import { MessageEntity, OrderEntity } from '@tidings/db';
import { getMetadataArgsStorage } from 'typeorm';
import { MESSAGE } from '../messages/message.resource';
import { ORDER } from '../orders/order.resource';
import type { BaseState, Resource } from './resource';

// The entities (with their migrations, checked for drift by test/infra.int-spec.ts) stay the schema's owner;
// the kit derives its row mapping from the state schema, and this keeps the two equal column for column.
function entityColumns(entity: object) {
  return getMetadataArgsStorage()
    .columns.filter((c) => c.target === entity)
    .map((c) => {
      const type = String(
        c.options.type ?? (c.mode === 'createDate' || c.mode === 'updateDate' ? 'timestamptz' : ''),
      );
      const codec =
        type === 'jsonb'
          ? 'json'
          : type === 'timestamptz'
            ? 'date'
            : ['int', 'bigint'].includes(type)
              ? 'number'
              : 'plain';
      return { field: c.propertyName, column: c.options.name ?? c.propertyName, codec };
    })
    .sort((a, b) => a.field.localeCompare(b.field));
}

const derived = (r: Resource<BaseState>) =>
  r.columns
    .map(({ field, column, codec }) => ({ field, column, codec }))
    .sort((a, b) => a.field.localeCompare(b.field));

describe('a resource defined with the kit', () => {
  it.each([
    ['orders', ORDER as unknown as Resource<BaseState>, OrderEntity],
    ['messages', MESSAGE as unknown as Resource<BaseState>, MessageEntity],
  ])(
    '%s: the row mapping derived from the state schema is the entity, column for column',
    (_t, r, entity) => {
      expect(derived(r)).toEqual(entityColumns(entity));
    },
  );

  it('reads a row into the state and shows it without tenant or deletion, dates as ISO text', () => {
    const at = new Date('2026-11-28T12:00:00.000Z');
    const state = MESSAGE.fromRow({
      id: 'msg_1',
      tenant_id: 'ten_1',
      sender: 'alice',
      channel: 'sms',
      body: 'hi',
      metadata: { a: 'b' },
      version: 2,
      created_at: at,
      deleted_at: null,
    });
    expect(state).toMatchObject({ from: 'alice', tenantId: 'ten_1', deletedAt: null });
    expect(JSON.stringify(MESSAGE.view(state))).toBe(
      '{"id":"msg_1","from":"alice","channel":"sms","body":"hi","metadata":{"a":"b"},"version":2,' +
        '"createdAt":"2026-11-28T12:00:00.000Z"}',
    );
  });

  it('writes jsonb as JSON text and reads bigint text as a number', () => {
    const row = Object.fromEntries(ORDER.columns.map((c) => [c.column, null]));
    const state = ORDER.fromRow({ ...row, total_minor: '9007199254740991', items: [], metadata: {} });
    expect(state.totalMinor).toBe(Number.MAX_SAFE_INTEGER);
    const params = ORDER.toParams(state);
    expect(params[ORDER.columns.findIndex((c) => c.field === 'items')]).toBe('[]');
  });
});
