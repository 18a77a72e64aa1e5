import { ProblemError } from '@tidings/runtime';
import { parseAsOf } from './resources.dto';

describe('parseAsOf', () => {
  it.each([
    ['1', { sequence: 1 }],
    ['42', { sequence: 42 }],
    ['999999999', { sequence: 999999999 }],
  ])('reads %s as a sequence', (raw, expected) => {
    expect(parseAsOf(raw)).toEqual(expected);
  });

  it.each([
    ['2026-11-28T12:00:00Z', '2026-11-28T12:00:00.000Z'],
    ['2026-11-28T12:00:00.123Z', '2026-11-28T12:00:00.123Z'],
    ['2026-11-28T13:00:00+01:00', '2026-11-28T12:00:00.000Z'],
    ['2026-11-28T12:00Z', '2026-11-28T12:00:00.000Z'],
    ['2026-11-28', '2026-11-28T00:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('reads %s as the instant %s', (raw, iso) => {
    expect(parseAsOf(raw)).toEqual({ time: new Date(iso) });
  });

  it.each([
    '',
    '0',
    '-1',
    '01',
    '1000000000',
    '2147483648',
    '1e3',
    '1.5',
    'now',
    '2026-11-28T12:00:00',
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-28T25:00:00Z',
    '28/11/2026',
  ])('rejects %j with a 400 naming asOf', (raw) => {
    let caught: unknown;
    try {
      parseAsOf(raw);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProblemError);
    expect(caught).toMatchObject({ status: 400, extra: { errors: [{ field: 'asOf' }] } });
  });

  it('rejects a repeated parameter', () => {
    expect(() => parseAsOf(['1', '2'])).toThrow(ProblemError);
  });
});
