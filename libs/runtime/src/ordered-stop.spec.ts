import { OrderedStop } from './ordered-stop';

function setup() {
  const halted: string[] = [];
  const stage = (name: string) =>
    new OrderedStop(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      halted.push(name);
    });
  const first = stage('first');
  const second = stage('second');
  const third = stage('third');
  second.after(() => first.run());
  third.after(() => second.run());
  return { sut: { first, second, third }, halted };
}

describe('OrderedStop', () => {
  it('halts each stage after its upstream, whichever stop is called first', async () => {
    const { sut, halted } = setup();
    await Promise.all([sut.third.run(), sut.second.run(), sut.first.run()]);
    expect(halted).toEqual(['first', 'second', 'third']);
  });

  it('halts once: every caller waits for the same stop', async () => {
    const { sut, halted } = setup();
    expect(sut.second.run()).toBe(sut.second.run());
    await sut.third.run();
    await sut.first.run();
    expect(halted).toEqual(['first', 'second', 'third']);
  });

  it('still halts when its upstream failed, and the upstream failure reaches its own callers', async () => {
    const failing = new OrderedStop(() => Promise.reject(new Error('broker gone')));
    const halted: string[] = [];
    const sut = new OrderedStop(async () => void halted.push('downstream'));
    sut.after(() => failing.run());
    await sut.run();
    expect(halted).toEqual(['downstream']);
    await expect(failing.run()).rejects.toThrow('broker gone');
  });
});
