import { randomUUID } from 'node:crypto';
import { createDataSource, transaction } from '@tidings/db';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../test/support/infra';
import { createTenant } from '../../../test/support/tenant';
import { type Attempt, type AttemptResult, recordFailure, recordSuccesses } from './lifecycle';
import type { HealthPolicy, RetryPolicy } from './rules';

/**
 * The health rule on crafted timestamps (real Postgres): which failures extend a streak and when the `failing`
 * warning fires — at the default thresholds (warn at 3, after 5 minutes; disable after 5 dead letters).
 */
const policy: { retry: RetryPolicy; health: HealthPolicy } = {
  retry: { schedule: [60_000, 300_000, 1_800_000, 7_200_000, 86_400_000], jitter: 0, retryAfterMaxMs: 0 },
  health: { failingWarningAt: 3, failingWarningAfterMs: 300_000, disableAfterDeadLetters: 5 },
};
const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const failed: AttemptResult = {
  statusCode: 500,
  durationMs: 5,
  responseBody: null,
  error: null,
  retryAfterMs: null,
};
const ok: AttemptResult = { ...failed, statusCode: 200 };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
let tenantId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource(db.url, 3);
  await ds.initialize();
  tenantId = (await createTenant(ds)).tenantId;
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

async function subscription(): Promise<string> {
  const id = `whk_${randomUUID()}`;
  await ds.query(
    `INSERT INTO webhook_subscriptions (id, tenant_id, url, event_types, metadata, version_pins, status, secrets,
                                        version)
     VALUES ($1, $2, 'https://example.com/hook', '{order.*}', '{}', '{}', 'active', '[]', 1)`,
    [id, tenantId],
  );
  return id;
}

let position = 0;
/** An open delivery of `subscriptionId`, and its attempt sent at `sentMs` and answered at `answeredMs`. */
async function attempt(subscriptionId: string, sentMs: number, answeredMs: number): Promise<Attempt> {
  const id = `dlv_${randomUUID()}`;
  const eventId = randomUUID();
  position += 1;
  await ds.query(
    `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                     resource_id, sequence, status)
     VALUES ($1, $2, $3, $4, 'order.updated', $5, $6, 1, 'pending')`,
    [id, tenantId, subscriptionId, eventId, position, `ord_${position}`],
  );
  return {
    deliveryId: id,
    subscriptionId,
    eventId,
    eventType: 'order.updated',
    attemptCount: 0,
    attemptedAt: at(sentMs),
    answeredAt: at(answeredMs),
  };
}

const fail = (a: Attempt) =>
  transaction(ds, (tx) => recordFailure(tx, a, failed, policy, 'tidings/test')).then((o) =>
    o.transitions.map((t) => t.kind),
  );

const health = async (id: string) =>
  (
    await ds.query<{ consecutive_failures: number; failing_warned: boolean }[]>(
      `SELECT consecutive_failures, failing_warned FROM webhook_subscriptions WHERE id = $1`,
      [id],
    )
  )[0];

describe('endpoint health', () => {
  it('does not count a failure sent before the last success was answered (their order at the endpoint is unknown)', async () => {
    const id = await subscription();
    // Sent together at 0; the success is read first (at 1 s), the three failures after it.
    const success = await attempt(id, 0, 1_000);
    const overlapping = [
      await attempt(id, 0, 2_000),
      await attempt(id, 0, 3_000),
      await attempt(id, 0, 4_000),
    ];
    await recordSuccesses(ds, [{ attempt: success, result: ok }]);
    for (const a of overlapping) expect(await fail(a)).toEqual([]);
    expect(await health(id)).toEqual({ consecutive_failures: 0, failing_warned: false });
    // A failure sent after the success was answered starts a streak.
    expect(await fail(await attempt(id, 1_500, 1_600))).toEqual([]);
    expect((await health(id)).consecutive_failures).toBe(1);
  });

  it('warns once a request sent 5 minutes after the first failure failed too, once per streak', async () => {
    const id = await subscription();
    // Answered failures over 10 minutes, but every one of them sent within the first 4 minutes: not yet.
    for (const [sent, answered] of [
      [0, 10],
      [MIN, 6 * MIN],
      [4 * MIN, 10 * MIN],
    ])
      expect(await fail(await attempt(id, sent, answered))).toEqual([]);
    expect(await health(id)).toEqual({ consecutive_failures: 3, failing_warned: false });
    // Sent at 5 min (after the first failure, answered at 10 ms): the warning.
    expect(await fail(await attempt(id, 5 * MIN + 10, 5 * MIN + 20))).toEqual(['failing']);
    expect(await fail(await attempt(id, 6 * MIN, 6 * MIN + 10))).toEqual([]);
    // A success resets the streak; the next one warns again, after its own 5 minutes.
    await recordSuccesses(ds, [{ attempt: await attempt(id, 7 * MIN, 7 * MIN + 10), result: ok }]);
    expect(await health(id)).toEqual({ consecutive_failures: 0, failing_warned: false });
    for (const sent of [8 * MIN, 9 * MIN, 12 * MIN])
      expect(await fail(await attempt(id, sent, sent + 10))).toEqual([]);
    expect(await fail(await attempt(id, 13 * MIN + 20, 13 * MIN + 30))).toEqual(['failing']);
  });

  it("resets health on a 2xx whose delivery another worker recorded meanwhile: it is still the endpoint's answer", async () => {
    const id = await subscription();
    for (const sent of [0, MIN, 2 * MIN]) await fail(await attempt(id, sent, sent + 10));
    expect((await health(id)).consecutive_failures).toBe(3);
    const late = await attempt(id, 3 * MIN, 3 * MIN + 10);
    await ds.query(`UPDATE webhook_deliveries SET attempt_count = 1 WHERE id = $1`, [late.deliveryId]);
    await recordSuccesses(ds, [{ attempt: late, result: ok }]);
    expect(await health(id)).toEqual({ consecutive_failures: 0, failing_warned: false });
    const [{ status }] = await ds.query<{ status: string }[]>(
      `SELECT status FROM webhook_deliveries WHERE id = $1`,
      [late.deliveryId],
    );
    expect(status).toBe('pending');
  });
});
