import { keepConnected, SharedConnection } from './connection-retry';

type Outcome = 'fail' | 'connect-then-close' | 'connect-then-fail';

function setup(outcomes: Outcome[], retry = { initialMs: 1, maxMs: 8 }) {
  const stop = new AbortController();
  const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  let sessions = 0;
  const done = keepConnected({
    what: 'Kafka consumer g1',
    retry,
    signal: stop.signal,
    log: (level, message, fields) => logged.push({ level, message, fields }),
    session: (connected) => {
      const outcome = outcomes[sessions++];
      if (outcome === undefined) {
        stop.abort();
        return Promise.resolve();
      }
      if (outcome === 'fail') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
      connected();
      return outcome === 'connect-then-close'
        ? Promise.resolve()
        : Promise.reject(new Error('The group coordinator is not available'));
    },
  });
  return { done, logged, sessions: () => sessions, stop };
}

describe('keepConnected', () => {
  it('retries a broker that is down with doubling delays, capped, each logged at warn with its delay', async () => {
    const { done, logged, sessions } = setup(['fail', 'fail', 'fail', 'fail', 'fail', 'fail']);
    await done;
    expect(sessions()).toBe(7);
    expect(logged.map((l) => l.fields?.retryInMs)).toEqual([1, 2, 4, 8, 8, 8]);
    expect(logged.every((l) => l.level === 'warn')).toBe(true);
    expect(logged[0].message).toBe('Kafka consumer g1 not connected; retrying in 1 ms');
    expect(logged[0].fields?.error).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });

  it('starts again from the first delay after a session that connected, lost or closed', async () => {
    const { done, logged } = setup([
      'fail',
      'fail',
      'fail',
      'connect-then-fail',
      'fail',
      'connect-then-close',
    ]);
    await done;
    expect(logged.map((l) => l.fields?.retryInMs)).toEqual([1, 2, 4, 1, 2, 1]);
    expect(logged[3].fields?.error).toBe('The group coordinator is not available');
    expect(logged[5].fields?.reason).toBe('connection closed');
  });

  it('ends without another session once aborted, even in the middle of a wait', async () => {
    const { done, stop, sessions } = setup(['fail', 'fail'], { initialMs: 3_600_000, maxMs: 3_600_000 });
    await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    await done;
    expect(sessions()).toBe(1);
  });
});

describe('SharedConnection', () => {
  function setup() {
    const attempts: { resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
    const closed: string[] = [];
    const sut = new SharedConnection(
      () => new Promise<string>((resolve, reject) => attempts.push({ resolve, reject })),
      (v) => {
        closed.push(v);
        return Promise.resolve();
      },
    );
    return { sut, attempts, closed };
  }

  it('shares one attempt between callers and forgets a failed one', async () => {
    const { sut, attempts } = setup();
    const a = sut.get();
    const b = sut.get();
    expect(attempts).toHaveLength(1);
    attempts[0].reject(new Error('ECONNREFUSED'));
    await expect(a).rejects.toThrow('ECONNREFUSED');
    await expect(b).rejects.toThrow('ECONNREFUSED');
    expect(sut.connected).toBeUndefined();
    const c = sut.get();
    expect(attempts).toHaveLength(2);
    attempts[1].resolve('p1');
    expect(await c).toBe('p1');
    expect(sut.connected).toBe('p1');
  });

  it('closes a connected value on drop, and one still connecting only once it connects', async () => {
    const { sut, attempts, closed } = setup();
    const first = sut.get();
    attempts[0].resolve('p1');
    await first;
    await sut.drop();
    expect(closed).toEqual(['p1']);
    expect(sut.connected).toBeUndefined();
    const pending = sut.get();
    await sut.drop(); // returns without waiting for the attempt
    expect(closed).toEqual(['p1']);
    attempts[1].resolve('p2');
    await pending;
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toEqual(['p1', 'p2']);
    expect(sut.connected).toBeUndefined();
  });
});
