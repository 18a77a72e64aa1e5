import { RateLimiter } from './rate-limiter';

function setup(perSecond = 2, burst = 3) {
  let now = 0;
  const sut = new RateLimiter(perSecond, burst, () => now);
  return { sut, advance: (ms: number) => (now += ms) };
}

describe('RateLimiter', () => {
  it('allows a burst, then asks to wait, then refills at the sustained rate', () => {
    const { sut, advance } = setup();
    expect([sut.take('k'), sut.take('k'), sut.take('k')]).toEqual([0, 0, 0]);
    expect(sut.take('k')).toBe(1);
    advance(500);
    expect(sut.take('k')).toBe(0);
    expect(sut.take('k')).toBeGreaterThan(0);
  });

  it('keeps keys independent', () => {
    const { sut } = setup(1, 1);
    expect(sut.take('a')).toBe(0);
    expect(sut.take('a')).toBe(1);
    expect(sut.take('b')).toBe(0);
  });
});
