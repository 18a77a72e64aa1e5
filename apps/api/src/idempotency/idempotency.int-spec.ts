import { SchedulerRegistry } from '@nestjs/schedule';
import { setupApiTest, type ApiTest } from '../../../../test/support/api-app';
import { eventually } from '../../../../test/support/eventually';

async function setup() {
  // The cleanup period compressed from 10 min to 200 ms through configuration, nothing else.
  const t = await setupApiTest({ IDEMPOTENCY_CLEANUP_MS: '200' });
  const insertKey = (key: string, expiresIn: string) =>
    t.ds.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_status, response_body, expires_at)
       VALUES ($1, $2, 'h', 201, '{}', now() + $3::interval)`,
      [t.a.tenantId, key, expiresIn],
    );
  const keys = async () =>
    (
      (await t.ds.query('SELECT key FROM idempotency_keys WHERE tenant_id = $1 ORDER BY key', [
        t.a.tenantId,
      ])) as { key: string }[]
    ).map((r) => r.key);
  return { ...t, insertKey, keys };
}

describe('idempotency key cleanup', () => {
  let t: ApiTest & Awaited<ReturnType<typeof setup>>;

  beforeAll(async () => {
    t = await setup();
  });

  afterAll(() => t?.close());

  it('purges expired keys on its own, every IDEMPOTENCY_CLEANUP_MS, and keeps the live ones', async () => {
    expect(t.api.app.get(SchedulerRegistry).getIntervals()).toContain('idempotency-cleanup');
    await t.insertKey('expired', '-1 hour');
    await t.insertKey('live', '1 hour');
    await eventually(async () => expect(await t.keys()).toEqual(['live']), { timeoutMs: 10_000 });
  });
});
