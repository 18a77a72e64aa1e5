import { Injectable } from '@nestjs/common';
import {
  ApiKeyEntity,
  appendEvent,
  hashCredential,
  newCredential,
  transaction,
  type ApiKeyScope,
  type Tx,
} from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { ConflictProblem, NotFoundProblem } from '@tidings/runtime';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { AuthGuard } from '../auth/auth.guard';

export interface IssuedKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  prefix: string;
  /** The key itself: shown once, never stored. */
  key: string;
  createdAt: string;
}

export type ApiKeyView = Omit<IssuedKey, 'key'> & { revokedAt: string | null };

const view = (k: ApiKeyEntity): ApiKeyView => ({
  id: k.id,
  name: k.name,
  scopes: k.scopes,
  prefix: k.prefix,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

/**
 * Issues a key inside the caller's transaction and records `api_key.created` (never the key) with it.
 * An API key's events are its versions: created = 1, revoked = 2.
 */
export async function issueApiKey(
  tx: Tx,
  tenantId: string,
  name: string,
  scopes: ApiKeyScope[],
): Promise<IssuedKey> {
  const { id, prefix, credential } = newCredential('api_key');
  const row = await tx
    .getRepository(ApiKeyEntity)
    .save({ id, tenantId, name, prefix, secretHash: hashCredential(credential), scopes, revokedAt: null });
  await appendEvent(
    tx,
    buildEvent({
      eventType: 'api_key.created',
      tenantId,
      resourceId: id,
      sequence: 1,
      source: 'tidings/api',
      data: { apiKeyId: id, name, scopes, prefix },
    }),
  );
  return { id, name, scopes, prefix, key: credential, createdAt: row.createdAt.toISOString() };
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly ds: DataSource,
    private readonly auth: AuthGuard,
  ) {}

  create(t: TenantCtx, name: string, scopes: ApiKeyScope[]): Promise<IssuedKey> {
    return transaction(this.ds, (tx) => issueApiKey(tx, t.tenantId, name, [...new Set(scopes)]));
  }

  async list(t: TenantCtx): Promise<ApiKeyView[]> {
    const keys = await this.ds
      .getRepository(ApiKeyEntity)
      .find({ where: { tenantId: t.tenantId }, order: { createdAt: 'ASC', id: 'ASC' } });
    return keys.map(view);
  }

  async revoke(t: TenantCtx, id: string): Promise<ApiKeyView> {
    const revoked = await transaction(this.ds, async (tx) => {
      const key = await tx
        .getRepository(ApiKeyEntity)
        .findOne({ where: { id, tenantId: t.tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!key) throw new NotFoundProblem('API key', id);
      if (key.revokedAt) throw new ConflictProblem(`API key ${id} is already revoked`);
      key.revokedAt = new Date();
      await tx.getRepository(ApiKeyEntity).save(key);
      await appendEvent(
        tx,
        buildEvent({
          eventType: 'api_key.revoked',
          tenantId: t.tenantId,
          resourceId: id,
          sequence: 2,
          source: 'tidings/api',
          data: { apiKeyId: id, revokedAt: key.revokedAt.toISOString() },
        }),
      );
      return key;
    });
    this.auth.forget(id);
    return view(revoked);
  }
}
