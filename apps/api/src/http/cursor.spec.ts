import { decodeCursor, encodeCursor } from './cursor';

describe('cursor', () => {
  it('round-trips (created_at, id)', () => {
    const at = new Date('2026-11-28T12:00:00.123Z');
    expect(decodeCursor(encodeCursor(at, 'ord_1'))).toEqual({ createdAt: at, id: 'ord_1' });
  });

  it('rejects anything it did not produce with a 400 problem', () => {
    for (const bad of [
      'x',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ status: 400 }) as Error);
    }
  });
});
