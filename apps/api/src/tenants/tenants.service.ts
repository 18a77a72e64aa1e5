import { Injectable } from '@nestjs/common';
import { appendEvent, TenantEntity, transaction, type ApiKeyScope } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { issueApiKey, type IssuedKey } from '../api-keys/api-keys.service';

export interface CreatedTenant {
  tenantId: string;
  name: string;
  apiKey: IssuedKey;
}

/** Creates a tenant and its first key in one transaction, with `tenant.created` and `api_key.created`. */
export function createTenantWithKey(
  ds: DataSource,
  name: string,
  scopes: ApiKeyScope[] = ['admin'],
): Promise<CreatedTenant> {
  return transaction(ds, async (tx) => {
    const tenantId = `ten_${randomBytes(9).toString('base64url')}`;
    await tx.getRepository(TenantEntity).insert({ id: tenantId, name });
    await appendEvent(
      tx,
      buildEvent({
        eventType: 'tenant.created',
        tenantId,
        resourceId: tenantId,
        sequence: 1,
        source: 'tidings/api',
        data: { tenantId, name },
      }),
    );
    const apiKey = await issueApiKey(tx, tenantId, 'initial admin key', scopes);
    return { tenantId, name, apiKey };
  });
}

@Injectable()
export class TenantsService {
  constructor(private readonly ds: DataSource) {}

  create(name: string): Promise<CreatedTenant> {
    return createTenantWithKey(this.ds, name);
  }
}
