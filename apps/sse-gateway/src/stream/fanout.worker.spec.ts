import type { EventEnvelope } from '@tidings/events';
import { PositionOrder } from './fanout.worker';

const at = (position: number) => ({ position, eventId: `e${position}` }) as EventEnvelope;

function setup(next = 1) {
  const emitted: number[] = [];
  const sut = new PositionOrder(next, (e) => emitted.push(e.position!));
  return { sut, emitted };
}

describe('PositionOrder', () => {
  it('emits out-of-order arrivals in dense position order', () => {
    const { sut, emitted } = setup();
    for (const p of [3, 1, 4, 2, 5]) sut.accept(at(p), 0);
    expect(emitted).toEqual([1, 2, 3, 4, 5]);
    expect(sut.nextPosition).toBe(6);
  });

  it('drops redeliveries and positions already emitted', () => {
    const { sut, emitted } = setup();
    for (const p of [1, 2, 1, 3, 2, 3]) sut.accept(at(p), 0);
    expect(emitted).toEqual([1, 2, 3]);
  });

  it('holds everything after a missing position and reports it overdue only after the wait', () => {
    const { sut, emitted } = setup(10);
    sut.accept(at(12), 1_000);
    sut.accept(at(13), 1_050);
    expect(emitted).toEqual([]);
    expect(sut.overdue(1_100, 200)).toBeUndefined();
    expect(sut.overdue(1_200, 200)).toEqual({ from: 10, to: 11 });
    sut.accept(at(11), 1_210);
    sut.accept(at(10), 1_220);
    expect(emitted).toEqual([10, 11, 12, 13]);
    expect(sut.overdue(5_000, 200)).toBeUndefined();
  });

  it('treats a head probe beyond the emitted positions as a gap to fill', () => {
    const { sut } = setup(5);
    sut.knowUpTo(4, 0);
    expect(sut.overdue(1_000, 200)).toBeUndefined();
    sut.knowUpTo(8, 0);
    expect(sut.overdue(100, 200)).toBeUndefined();
    expect(sut.overdue(200, 200)).toEqual({ from: 5, to: 8 });
  });

  it('restarts the wait whenever the order advances', () => {
    const { sut, emitted } = setup(1);
    sut.knowUpTo(3, 0);
    sut.accept(at(1), 150);
    expect(emitted).toEqual([1]);
    expect(sut.overdue(250, 200)).toBeUndefined();
    expect(sut.overdue(350, 200)).toEqual({ from: 2, to: 3 });
  });
});
