import { Injectable } from '@nestjs/common';
import { hashCredential, newCredential, StreamTokenEntity } from '@tidings/db';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';

/**
 * Read-only, tenant-bound credentials for the SSE gateway (EventSource cannot send headers, so the token
 * travels in `access_token`). Stored hashed; they expire; optionally limited to event-type patterns.
 */
@Injectable()
export class StreamTokensService {
  constructor(private readonly ds: DataSource) {}

  async create(t: TenantCtx, eventTypes: string[] = ['*'], ttlSeconds = 3600) {
    const { id, credential } = newCredential('stream_token');
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    await this.ds.getRepository(StreamTokenEntity).insert({
      id,
      tenantId: t.tenantId,
      tokenHash: hashCredential(credential),
      eventTypes,
      apiKeyId: t.apiKeyId,
      expiresAt,
    });
    return { id, token: credential, eventTypes, expiresAt: expiresAt.toISOString() };
  }
}
