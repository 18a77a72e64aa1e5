import type { DataSource } from 'typeorm';
import { type ApiTest, setupApiTest, type TestApi } from '../../../../test/support/api-app';
import { messageBody } from '../../../../test/support/factories/resources';
import type { TestTenant } from '../../../../test/support/tenant';

describe('rate limiting per API key', () => {
  let t: ApiTest;
  let ds: DataSource;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    // One request per second with a burst of three: a burst of ten must overflow it.
    t = await setupApiTest({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' });
    ({ ds, api, a, b } = t);
  });

  afterAll(() => t.close());

  it('answers 429 problem+json with Retry-After beyond the burst, writes nothing for it, and spares other keys', async () => {
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => api.call('POST', '/messages', a.apiKey, messageBody())),
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
    expect((await api.call('POST', '/messages', b.apiKey, messageBody())).status).toBe(201);
  });
});
