import { randomUUID } from 'node:crypto';
import type { TestApi } from '../../../../test/support/api-app';
import { eventually } from '../../../../test/support/eventually';
import { commitEvent, orderCreatedEvent } from '../../../../test/support/factories/events';
import { startPipeline, type Pipeline } from '../../../../test/support/pipeline';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';

/**
 * Per-subscription concurrency end to end, at the default thresholds: subscriptions created through the api
 * with their own `maxInFlight` (or none: the default 16), events through the real relay, and a receiver that
 * holds every request open until told, so what the dispatcher keeps open at once is seen exactly, not timed.
 * Held requests are released well inside the default 15 s timeout.
 */
let pipeline: Pipeline;
let api: TestApi;
let tenant: TestTenant;

beforeAll(async () => {
  pipeline = await startPipeline();
  api = await pipeline.startApi();
  await pipeline.startRelay();
  await pipeline.startDispatcher();
  tenant = await createTenant(pipeline.ds);
});

afterAll(() => pipeline?.teardown());

async function subscribe(path: string, maxInFlight?: number): Promise<string> {
  const res = await api.call('POST', '/webhooks', tenant.apiKey, {
    url: pipeline.receiver.url(path),
    eventTypes: ['order.*'],
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
  });
  expect(res.status).toBe(201);
  pipeline.receiver.expectSecrets(path, res.body.secret as string);
  return res.body.id as string;
}

async function commitOrders(n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await commitEvent(
      pipeline.ds,
      orderCreatedEvent({ tenantId: tenant.tenantId, orderId: `ord_${randomUUID()}` }),
    );
}

/** Expects exactly `open[path]` requests open at once on each path. */
async function expectHeldOpen(open: Record<string, number>): Promise<void> {
  await eventually(
    () =>
      expect(Object.fromEntries(Object.keys(open).map((p) => [p, pipeline.receiver.openNow(p)]))).toEqual(
        open,
      ),
    { timeoutMs: 10_000 },
  );
}

function releaseAll(paths: string[]): void {
  for (const path of paths) {
    pipeline.receiver.always(path, {});
    pipeline.receiver.release(path);
  }
}

describe('per-subscription concurrency', () => {
  const paths = ['/narrow', '/default', '/broad'];

  it('keeps each subscription at its own maxInFlight, over that many kept-alive connections', async () => {
    const { receiver } = pipeline;
    const narrow = await subscribe('/narrow', 4);
    await subscribe('/default');
    await subscribe('/broad', 24);
    for (const path of paths) receiver.always(path, { hold: true });

    await commitOrders(40);
    // Each subscription has more waiting than it may send: it sends exactly its own cap, and no more.
    await expectHeldOpen({ '/narrow': 4, '/default': 16, '/broad': 24 });
    releaseAll(paths);
    await eventually(() => expect(paths.map((p) => receiver.delivered(p).length)).toEqual([40, 40, 40]));
    expect(paths.map((p) => receiver.maxConcurrent(p))).toEqual([4, 16, 24]);
    // Every request of the narrow one went over the connections its pool keeps: no more than its cap.
    expect(new Set(receiver.all('/narrow').map((r) => r.connection)).size).toBeLessThanOrEqual(4);

    // A lowered setting applies to the next deliveries, without a restart; the others keep theirs.
    const patched = await api.call('PATCH', `/webhooks/${narrow}`, tenant.apiKey, { maxInFlight: 2 });
    expect(patched.body).toMatchObject({ maxInFlight: 2 });
    await expectHeldOpen({ '/narrow': 0, '/default': 0, '/broad': 0 });
    for (const path of paths) {
      receiver.resetMaxConcurrent(path);
      receiver.always(path, { hold: true });
    }
    await commitOrders(20);
    await expectHeldOpen({ '/narrow': 2, '/default': 16, '/broad': 20 });
    releaseAll(paths);
    await eventually(() => expect(paths.map((p) => receiver.delivered(p).length)).toEqual([60, 60, 60]));
    expect(paths.map((p) => receiver.maxConcurrent(p))).toEqual([2, 16, 20]);
  });
});
