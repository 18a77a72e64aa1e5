import { createDataSource, type ApiKeyScope } from '@tidings/db';
import type { DataSource } from 'typeorm';
import { issueApiKey } from '../../apps/api/src/api-keys/api-keys.service';
import { createTenantWithKey } from '../../apps/api/src/tenants/tenants.service';
import { transaction } from '@tidings/db';

export interface TestTenant {
  tenantId: string;
  /** An admin key (read + write + admin). */
  apiKey: string;
  /** A read-only key of the same tenant. */
  readKey: string;
}

/**
 * A tenant with an admin key and a read-only key, created the way the API creates them (same service,
 * same audit events). Accepts a DataSource or a database URL.
 */
export async function createTenant(
  target: DataSource | string,
  opts: { name?: string; scopes?: ApiKeyScope[] } = {},
): Promise<TestTenant> {
  const ds = typeof target === 'string' ? createDataSource(target, 1) : target;
  if (typeof target === 'string') await ds.initialize();
  try {
    const created = await createTenantWithKey(ds, opts.name ?? 'test tenant', opts.scopes ?? ['admin']);
    const read = await transaction(ds, (tx) => issueApiKey(tx, created.tenantId, 'read-only', ['read']));
    return { tenantId: created.tenantId, apiKey: created.apiKey.key, readKey: read.key };
  } finally {
    if (typeof target === 'string') await ds.destroy();
  }
}
