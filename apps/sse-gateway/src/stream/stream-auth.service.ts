import { Injectable } from '@nestjs/common';
import { type ApiKeyScope, grantsScope, hashCredential } from '@tidings/db';
import { UnauthorizedProblem } from '@tidings/runtime';
import { DataSource } from 'typeorm';

/** Who may read a stream: always one tenant; a stream token may narrow the event types. */
export interface StreamPrincipal {
  tenantId: string;
  /** Event-type patterns the credential allows; `['*']` for an API key. */
  allowedTypes: string[];
  /** The API key the stream lives by: the key itself, or the key that minted the stream token. */
  apiKeyId: string;
  /** When a stream token stops being valid (ms since the epoch); undefined for an API key. */
  expiresAt?: number;
}

const REALM = 'tidings-sse';

/**
 * Resolves a credential (`tdk_…` API key with read scope, or `tds_…` stream token) to its tenant. Every
 * failure — unknown, revoked, expired, wrong scope — is a 401 before the stream opens, with the same shape.
 * Open streams are re-checked by `liveKeys` (revocation) and the principal's `expiresAt` (token expiry).
 */
@Injectable()
export class StreamAuthService {
  constructor(private readonly ds: DataSource) {}

  async authenticate(credential: string | undefined): Promise<StreamPrincipal> {
    if (!credential) {
      throw new UnauthorizedProblem(
        'Send a stream token or API key as `Authorization: Bearer …` or in `access_token`',
        REALM,
      );
    }
    const hash = hashCredential(credential);
    if (credential.startsWith('tds_')) return this.streamToken(hash);
    if (credential.startsWith('tdk_')) return this.apiKey(credential.slice(0, 16), hash);
    throw new UnauthorizedProblem('The credential is not a Tidings stream token or API key', REALM);
  }

  private async streamToken(hash: string): Promise<StreamPrincipal> {
    // A token dies with its API key: a revoked key's tokens open no stream (StreamService ends the open ones).
    const [row] = await this.ds.query<
      { tenant_id: string; event_types: string[]; api_key_id: string; expires_at: Date }[]
    >(
      `SELECT t.tenant_id, t.event_types, t.api_key_id, t.expires_at
         FROM stream_tokens t JOIN api_keys k ON k.id = t.api_key_id AND k.tenant_id = t.tenant_id
        WHERE t.token_hash = $1 AND t.expires_at > now() AND k.revoked_at IS NULL`,
      [hash],
    );
    if (!row) throw new UnauthorizedProblem('The stream token is unknown, expired or revoked', REALM);
    return {
      tenantId: row.tenant_id,
      allowedTypes: row.event_types.length > 0 ? row.event_types : ['*'],
      apiKeyId: row.api_key_id,
      expiresAt: row.expires_at.getTime(),
    };
  }

  /** Found by its public prefix (`tdk_` + 12 characters, uniquely indexed), then matched by hash. */
  private async apiKey(prefix: string, hash: string): Promise<StreamPrincipal> {
    const [row] = await this.ds.query<{ id: string; tenant_id: string; scopes: ApiKeyScope[] }[]>(
      'SELECT id, tenant_id, scopes FROM api_keys WHERE prefix = $1 AND secret_hash = $2 AND revoked_at IS NULL',
      [prefix, hash],
    );
    if (!row) throw new UnauthorizedProblem('The API key is unknown or revoked', REALM);
    if (!grantsScope(row.scopes, 'read')) {
      throw new UnauthorizedProblem('The API key lacks the read scope', REALM);
    }
    return { tenantId: row.tenant_id, allowedTypes: ['*'], apiKeyId: row.id };
  }

  /**
   * Which of these API keys still exist unrevoked: one query for every open stream's key, however many
   * streams share them (a key that is absent was revoked, or its tenant deleted).
   */
  async liveKeys(apiKeyIds: string[]): Promise<Set<string>> {
    const rows = await this.ds.query<{ id: string }[]>(
      'SELECT id FROM api_keys WHERE id = ANY($1::text[]) AND revoked_at IS NULL',
      [apiKeyIds],
    );
    return new Set(rows.map((r) => r.id));
  }
}
