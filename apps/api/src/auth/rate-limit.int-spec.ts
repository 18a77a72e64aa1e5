import { createDataSource } from '@tidings/db';
import type { DataSource } from 'typeorm';
import { startApi, type TestApi } from '../../../../test/support/api-app';
import { createTestDatabase } from '../../../../test/support/infra';
import { createTenant, type TestTenant } from '../../../../test/support/tenant';

const MESSAGE = { from: 'alice@example.com', channel: 'support', body: 'hi' };

describe('rate limiting per API key', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 2);
    await ds.initialize();
    // One request per second with a burst of three: a burst of ten must overflow it.
    api = await startApi(db.url, { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' });
    a = await createTenant(ds, { name: 'a' });
    b = await createTenant(ds, { name: 'b' });
  });

  afterAll(async () => {
    await api.app.close();
    await ds.destroy();
    await db.drop();
  });

  it('answers 429 problem+json with Retry-After beyond the burst, writes nothing for it, and spares other keys', async () => {
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => api.call('POST', '/messages', a.apiKey, MESSAGE)),
    );
    const limited = burst.filter((r) => r.status === 429);
    const accepted = burst.filter((r) => r.status === 201);
    expect(limited.length).toBeGreaterThan(0);
    expect(accepted.length + limited.length).toBe(10);
    for (const r of limited) {
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
    }
    const stored = (await ds.query('SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1', [
      a.tenantId,
    ])) as { n: number }[];
    expect(stored[0].n).toBe(accepted.length);
    expect((await api.call('POST', '/messages', b.apiKey, MESSAGE)).status).toBe(201);
  });
});
