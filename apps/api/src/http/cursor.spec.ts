import {
  decodeIdCursor,
  decodePositionCursor,
  decodeTimeCursor,
  encodeIdCursor,
  encodePositionCursor,
  encodeTimeCursor,
} from './cursor';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const rejects = (decode: () => unknown) =>
  expect(decode).toThrow(
    expect.objectContaining({
      status: 400,
      extra: { errors: [{ field: 'cursor', message: 'is not a cursor returned by this endpoint' }] },
    }) as Error,
  );

describe('cursor', () => {
  it('round-trips (created_at, id)', () => {
    const at = new Date('2026-11-28T12:00:00.123Z');
    expect(decodeTimeCursor(encodeTimeCursor(at, 'ord_1'), 'ord_')).toEqual({ createdAt: at, id: 'ord_1' });
  });

  it('round-trips an id', () => {
    expect(decodeIdCursor(encodeIdCursor('whk_0193a4e2'), 'whk_')).toBe('whk_0193a4e2');
  });

  it('round-trips (position, id)', () => {
    expect(decodePositionCursor(encodePositionCursor(42, 'dlv_1'), 'dlv_')).toEqual({
      position: 42,
      id: 'dlv_1',
    });
  });

  it('reads no cursor as the first page', () => {
    expect(decodePositionCursor(undefined, 'dlv_')).toBeUndefined();
    expect(decodeTimeCursor(undefined, 'ord_')).toBeUndefined();
    expect(decodeIdCursor(undefined, 'whk_')).toBeUndefined();
  });

  it.each([
    ['not base64', 'x!'],
    ['base64 with characters decoding skips', `${b64('["whk_1"]')}==`],
    ['a bare id', b64('whk_1')],
    ['two items', b64(JSON.stringify(['whk_1', 'whk_2']))],
    ['a NUL in the id', b64(JSON.stringify(['whk_\u0000']))],
    ['another prefix', b64(JSON.stringify(['ord_1']))],
    ['a space', b64(JSON.stringify(['whk_ 1']))],
  ])('refuses an id cursor with %s', (_name, cursor) => rejects(() => decodeIdCursor(cursor, 'whk_')));

  it.each([
    ['not base64', 'x!'],
    ['not JSON', b64('[1,')],
    ['not a pair', b64('[1,2]')],
    ['an object', b64('{}')],
    ['three items', b64(JSON.stringify(['2026-11-28T12:00:00.123Z', 'ord_1', 1]))],
    ['a NUL in the id', b64(JSON.stringify(['2026-11-28T12:00:00.123Z', 'ord_\u0000']))],
    ['another prefix', b64(JSON.stringify(['2026-11-28T12:00:00.123Z', 'msg_1']))],
    ['a year beyond Postgres and Date', b64(JSON.stringify(['+275760-09-13T00:00:00.000Z', 'ord_1']))],
    ['year 0', b64(JSON.stringify(['0000-01-01T00:00:00.000Z', 'ord_1']))],
    ['a time not from toISOString', b64(JSON.stringify(['2026-11-28', 'ord_1']))],
    ['an impossible date', b64(JSON.stringify(['2026-02-31T00:00:00.000Z', 'ord_1']))],
  ])('refuses a time cursor with %s', (_name, cursor) => rejects(() => decodeTimeCursor(cursor, 'ord_')));

  it.each([
    ['not base64', 'x!'],
    ['a position as a string', b64(JSON.stringify(['42', 'dlv_1']))],
    ['a negative position', b64(JSON.stringify([-1, 'dlv_1']))],
    ['a fractional position', b64(JSON.stringify([1.5, 'dlv_1']))],
    ['a position beyond a safe integer', b64('[9007199254740993,"dlv_1"]')],
    ['another prefix', b64(JSON.stringify([42, 'whk_1']))],
    ['one item', b64(JSON.stringify([42]))],
  ])('refuses a position cursor with %s', (_name, cursor) =>
    rejects(() => decodePositionCursor(cursor, 'dlv_')),
  );
});
