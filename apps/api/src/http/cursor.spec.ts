import { decodeIdCursor, decodeTimeCursor, encodeIdCursor, encodeTimeCursor } from './cursor';

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

  it('reads no cursor as the first page', () => {
    expect(decodeTimeCursor(undefined, 'ord_')).toBeUndefined();
    expect(decodeIdCursor(undefined, 'whk_')).toBeUndefined();
  });

  it.each([
    ['not base64', 'x!'],
    ['base64 with characters decoding skips', `${b64('whk_1')}==`],
    ['a NUL in the id', b64('whk_\u0000')],
    ['another prefix', b64('ord_1')],
    ['a space', b64('whk_ 1')],
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
});
