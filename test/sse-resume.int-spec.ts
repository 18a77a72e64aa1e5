import type { INestApplication } from '@nestjs/common';
import type { EventEnvelope } from '@tidings/events';
import { eventually } from './support/eventually';
import { SseClient } from './support/sse-client';
import { orderUpdated, sseHarness, type SseHarness, type TestTenant } from './support/sse-harness';

/** Commits change `n` of resource `id`: a message is deleted, an order updated. */
async function writeChange(h: SseHarness, tenantId: string, id: string, n: number): Promise<void> {
  if (id.startsWith('msg_')) {
    await h.append(tenantId, 'message.deleted', id, { messageId: id, deletedAt: new Date().toISOString() });
  } else await h.append(tenantId, 'order.updated', id, orderUpdated(id, n));
}

/** Commits `total` events with `concurrency` writers over `resources`; returns when all have committed. */
async function writeMany(
  h: SseHarness,
  tenantId: string,
  resources: string[],
  total: number,
  concurrency: number,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        await writeChange(h, tenantId, resources[(n * 7919) % resources.length], n);
      }
    }),
  );
}

/** Every matching event of the log exactly once, in position order, each resource in sequence order. */
function expectExactly(received: EventEnvelope[], expected: { position: number }[]): void {
  expect(received.map((e) => e.position)).toEqual(expected.map((e) => e.position));
  expect(new Set(received.map((e) => e.eventId)).size).toBe(received.length);
  const sequences = new Map<string, number>();
  for (const e of received) {
    expect(e.sequence).toBe((sequences.get(e.resourceId) ?? 0) + 1);
    sequences.set(e.resourceId, e.sequence);
  }
}

describe('SSE gateway: gapless resume under concurrent writes', () => {
  let h: SseHarness;
  let gwA: { app: INestApplication; url: string };
  let gwB: { app: INestApplication; url: string };
  const clients: SseClient[] = [];

  beforeAll(async () => {
    h = await sseHarness();
    gwA = await h.startGateway();
    gwB = await h.startGateway();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.teardown();
  });

  const matching = (t: TestTenant) => h.logged(`tenant_id = $1 AND event_type LIKE 'order.%'`, [t.tenantId]);

  it('delivers every matching event exactly once across repeated reconnects to two instances', async () => {
    const a = await h.createTenant();
    const noise = await h.createTenant();
    const orders = Array.from({ length: 300 }, (_, i) => `ord_r${i}`);
    // Writers keep committing (matching orders, non-matching messages, another tenant) until told to stop.
    let stop = false;
    const writer = async (tenantId: string, resources: string[], offset: number) => {
      for (let n = offset; !stop; n += 7)
        await writeChange(h, tenantId, resources[(n * 7919) % resources.length], n);
    };
    const mixed = [...orders, ...Array.from({ length: 20 }, (_, i) => `msg_r${i}`)];
    const writers = Promise.all([
      ...Array.from({ length: 5 }, (_, i) => writer(a.tenantId, mixed, i)),
      writer(
        noise.tenantId,
        orders.slice(0, 50).map((o) => `${o}_noise`),
        0,
      ),
    ]);

    const received: EventEnvelope[] = [];
    let last = '0';
    let sessions = 0;
    const session = async (until: (c: SseClient) => Promise<boolean> | boolean) => {
      const url = sessions % 2 === 0 ? gwA.url : gwB.url;
      const c = await SseClient.connect(`${url}/events/stream?types=order.*`, {
        token: a.apiKey,
        lastEventId: last,
      });
      sessions++;
      await eventually(
        async () => {
          if (!(await until(c))) throw new Error(`session ${sessions}: ${c.events.length} frames so far`);
        },
        { timeoutMs: 20_000, intervalMs: 10 },
      );
      c.close();
      // Frames recorded before close() are all this session got; the next session resumes after the last.
      received.push(...c.events);
      last = c.lastEventId ?? last;
      expect(c.resets).toEqual([]);
    };
    try {
      while (sessions < 40) {
        // Disconnect after 1–60 frames: some sessions end mid-replay, others after switching to live.
        const want = 1 + ((sessions * 37) % 60);
        await session((c) => c.events.length >= want);
        // Let the log run ahead before reconnecting, so the next replay races live commits.
        const behind = received.length + 40;
        await eventually(async () => expect((await matching(a)).length).toBeGreaterThanOrEqual(behind));
      }
    } finally {
      stop = true;
      await writers;
    }
    const written = (
      await h.ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM event_log WHERE tenant_id = $1 AND event_type LIKE 'order.%'`,
        [a.tenantId],
      )
    )[0].n;
    const expected = await eventually(async () => {
      const logged = await matching(a);
      expect(logged).toHaveLength(written);
      return logged;
    });
    await session((c) => received.length + c.events.length >= expected.length);
    expectExactly(received, expected);
    expect(received.every((e) => e.tenantId === a.tenantId && e.eventType === 'order.updated')).toBe(true);
  });

  it('resumes on another instance when its gateway shuts down, with Last-Event-ID and without loss', async () => {
    const t = await h.createTenant();
    const gwC = await h.startGateway();
    let target = gwC.url;
    const c = await SseClient.connect(() => `${target}/events/stream?types=order.*`, {
      token: t.apiKey,
      lastEventId: '0',
    });
    clients.push(c);
    const orders = Array.from({ length: 100 }, (_, i) => `ord_k${i}`);
    const writers = writeMany(h, t.tenantId, orders, 600, 4);
    await eventually(() => expect(c.events.length).toBeGreaterThan(50));
    target = gwB.url;
    const before = c.events.length;
    await h.stopGateway(gwC.app);
    await writers;
    const expected = await eventually(async () => {
      const logged = await matching(t);
      expect(logged).toHaveLength(600);
      return logged;
    });
    await eventually(() => expect(c.events.length).toBe(600));
    expect(c.openCount).toBe(2);
    // The automatic reconnect carried the last id received from the closed instance.
    expect(c.connects.length).toBeGreaterThanOrEqual(2);
    for (const id of c.connects.slice(1)) {
      expect(Number(id)).toBeGreaterThanOrEqual(c.events[before - 1].position!);
    }
    expectExactly(c.events, expected);
  });
});
