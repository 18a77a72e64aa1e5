import { setupApiTest } from '../../../../test/support/api-app';
import type { TestTenant } from '../../../../test/support/tenant';
import { bootstrapDevTenant } from '../cli';

const ADMIN = 'platform-admin-key-for-tests';

async function setup() {
  const test = await setupApiTest({ ADMIN_API_KEY: ADMIN });
  const count = async (table: string) =>
    Number(((await test.ds.query(`SELECT count(*)::int AS n FROM ${table}`)) as { n: number }[])[0].n);
  return { ...test, app: test.api.app, call: test.api.call, count };
}

describe('authentication, tenants, API keys and stream tokens', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    t = await setup();
    ({ a, b } = t);
  });

  afterAll(() => t.close());

  it('rejects requests without a valid key with 401 problem+json and a WWW-Authenticate challenge', async () => {
    for (const key of [undefined, 'garbage', `tdk_${'A'.repeat(12)}_${'B'.repeat(43)}`]) {
      const res = await t.call('GET', '/api-keys', key);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('enforces scopes: a read key cannot write or manage keys (403)', async () => {
    expect((await t.call('POST', '/api-keys', a.readKey, { name: 'x', scopes: ['read'] })).status).toBe(403);
    expect((await t.call('POST', '/stream-tokens', a.readKey, {})).status).toBe(201);
  });

  it('issues a key once, stores only its hash, records api_key.created without the secret, and revokes it', async () => {
    const keysBefore = await t.count('api_keys');
    const created = await t.call('POST', '/api-keys', a.apiKey, { name: 'ci', scopes: ['read', 'write'] });
    expect(created.status).toBe(201);
    const key = created.body!.key as string;
    expect(key).toMatch(/^tdk_/);
    expect(await t.count('api_keys')).toBe(keysBefore + 1);
    const stored = (await t.ds.query('SELECT secret_hash FROM api_keys WHERE id = $1', [
      created.body!.id,
    ])) as { secret_hash: string }[];
    expect(stored[0].secret_hash).not.toContain(key);
    const listed = await t.call('GET', '/api-keys', a.apiKey);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    const events = (await t.ds.query(`SELECT data FROM event_log WHERE resource_id = $1 ORDER BY sequence`, [
      created.body!.id,
    ])) as { data: unknown }[];
    expect(JSON.stringify(events)).not.toContain(key.slice(17));
    expect((await t.call('POST', '/stream-tokens', key, {})).status).toBe(201);
    expect((await t.call('DELETE', `/api-keys/${String(created.body!.id)}`, a.apiKey)).status).toBe(200);
    expect((await t.call('POST', '/stream-tokens', key, {})).status).toBe(401);
    const types = (await t.ds.query(
      `SELECT event_type FROM event_log WHERE resource_id = $1 ORDER BY sequence`,
      [created.body!.id],
    )) as { event_type: string }[];
    expect(types.map((e) => e.event_type)).toEqual(['api_key.created', 'api_key.revoked']);
  });

  it("answers 404 for another tenant's key exactly as for a missing one, and changes nothing", async () => {
    const bKeys = await t.call('GET', '/api-keys', b.apiKey);
    const bKeyId = (bKeys.body!.data as { id: string }[])[0].id;
    const foreign = await t.call('DELETE', `/api-keys/${bKeyId}`, a.apiKey);
    const missing = await t.call('DELETE', '/api-keys/key_doesnotexist', a.apiKey);
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect((await t.call('GET', '/api-keys', b.apiKey)).status).toBe(200);
  });

  it('creates tenants only with the platform admin key, recording tenant.created', async () => {
    expect((await t.call('POST', '/tenants', a.apiKey, { name: 'nope' })).status).toBe(401);
    const created = await t.call('POST', '/tenants', ADMIN, { name: 'Acme' });
    expect(created.status).toBe(201);
    const key = (created.body!.apiKey as { key: string }).key;
    expect((await t.call('GET', '/api-keys', key)).status).toBe(200);
    const events = (await t.ds.query('SELECT event_type FROM event_log WHERE tenant_id = $1 ORDER BY id', [
      created.body!.tenantId,
    ])) as { event_type: string }[];
    expect(events.map((e) => e.event_type)).toEqual(['tenant.created', 'api_key.created']);
  });

  it('validates bodies: unknown fields and bad values are a 400 with field errors, and nothing is written', async () => {
    const before = await t.count('api_keys');
    const res = await t.call('POST', '/api-keys', a.apiKey, { name: '', scopes: ['root'], extra: true });
    expect(res.status).toBe(400);
    const fields = (res.body!.errors as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['extra', 'name', 'scopes']));
    expect(await t.count('api_keys')).toBe(before);
  });

  it('mints stream tokens limited to valid event-type patterns, with an expiry', async () => {
    const ok = await t.call('POST', '/stream-tokens', a.apiKey, { eventTypes: ['order.*'], ttlSeconds: 120 });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ eventTypes: ['order.*'] });
    expect(String(ok.body!.token)).toMatch(/^tds_/);
    expect(Date.parse(String(ok.body!.expiresAt)) - Date.now()).toBeLessThanOrEqual(120_000);
    const before = await t.count('stream_tokens');
    expect((await t.call('POST', '/stream-tokens', a.apiKey, { eventTypes: ['nothing.*'] })).status).toBe(
      400,
    );
    expect(await t.count('stream_tokens')).toBe(before);
    expect((await t.call('POST', '/stream-tokens', a.apiKey, { ttlSeconds: 30 * 86_400 + 1 })).status).toBe(
      400,
    );
    expect(await t.count('stream_tokens')).toBe(before);
    const stored = (await t.ds.query('SELECT token_hash FROM stream_tokens WHERE id = $1', [
      ok.body!.id,
    ])) as {
      token_hash: string;
    }[];
    expect(stored).toHaveLength(1);
    expect(stored[0].token_hash).not.toContain(String(ok.body!.token).slice(17));
  });

  it('bootstraps one dev tenant idempotently, minting a working admin key each time', async () => {
    const first = await bootstrapDevTenant(t.ds);
    const second = await bootstrapDevTenant(t.ds);
    expect(second.tenantId).toBe(first.tenantId);
    expect(second.apiKey).not.toBe(first.apiKey);
    const devs = (await t.ds.query(`SELECT count(*)::int AS n FROM tenants WHERE name = 'dev'`)) as {
      n: number;
    }[];
    expect(devs[0].n).toBe(1);
    for (const key of [first.apiKey, second.apiKey]) {
      const res = await t.call('POST', '/api-keys', key, { name: 'from dev key', scopes: ['read'] });
      expect(res.status).toBe(201);
    }
  });
});
