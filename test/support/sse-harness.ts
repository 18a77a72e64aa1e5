import type { INestApplication } from '@nestjs/common';
import { hashCredential, newCredential } from '@tidings/db';
import type { EventData, EventEnvelope, KnownEventType } from '@tidings/events';
import { randomBytes } from 'node:crypto';
import { appendNextEvent } from './event-writer';
import { startPipeline } from './pipeline';

export interface TestTenant {
  tenantId: string;
  apiKeyId: string;
  /** A `tdk_…` key with the read scope. */
  apiKey: string;
}

/**
 * What the SSE journeys share: an isolated database and topic prefix, the real outbox relay in-process (it
 * positions and publishes what the tests commit; `relay: false` leaves Kafka silent), gateways started on
 * demand (several may run at once, on port 0 or a given port), tenants with credentials, and an event writer
 * that appends like the API does.
 */
export async function sseHarness(options: { relay?: boolean } = {}) {
  const pipeline = await startPipeline({
    partitions: 6,
    poolSize: 20,
    env: { LOG_LEVEL: 'warn', NODE_ENV: 'test', DB_POOL_SIZE: '5' },
  });
  const { ds, env } = pipeline;

  // Without the relay nothing reaches Kafka: tests then position events with assignPositions (test/support/positions).
  if (options.relay !== false) await pipeline.startRelay({ RELAY_SHARD_RENEW_MS: '200' });

  return {
    ds,
    env,
    /** Boots a gateway in this process; `extra` overrides its SSE_* variables. */
    startGateway: (extra: Record<string, string> = {}): Promise<{ app: INestApplication; url: string }> =>
      pipeline.startGateway({ SSE_RETRY_MS: '100', ...extra }),
    stopGateway: pipeline.close,
    async createTenant(scopes: string[] = ['read']): Promise<TestTenant> {
      const tenantId = `ten_${randomBytes(6).toString('hex')}`;
      const key = newCredential('api_key');
      await ds.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenantId, tenantId]);
      await ds.query(
        'INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes) VALUES ($1, $2, $3, $4, $5, $6)',
        [key.id, tenantId, 'sse test', key.prefix, hashCredential(key.credential), scopes],
      );
      return { tenantId, apiKeyId: key.id, apiKey: key.credential };
    },
    /** Inserts a stream token row as POST /stream-tokens would; returns the `tds_…` credential. */
    async createStreamToken(
      tenant: TestTenant,
      opts: { eventTypes?: string[]; expiresInMs?: number } = {},
    ): Promise<string> {
      const token = newCredential('stream_token');
      await ds.query(
        `INSERT INTO stream_tokens (id, tenant_id, token_hash, event_types, api_key_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::double precision / 1000))`,
        [
          token.id,
          tenant.tenantId,
          hashCredential(token.credential),
          opts.eventTypes ?? ['*'],
          tenant.apiKeyId,
          opts.expiresInMs ?? 3_600_000,
        ],
      );
      return token.credential;
    },
    /** Commits one event the way the API does (appendNextEvent: resource lock, next sequence, append). */
    append: <T extends KnownEventType>(
      tenantId: string,
      eventType: T,
      resourceId: string,
      data: EventData<T>,
    ): Promise<EventEnvelope> => appendNextEvent(ds, tenantId, eventType, resourceId, () => data),
    /** The positioned events of the log, in position order (what a stream should have carried). */
    async logged(
      where: string,
      params: unknown[],
    ): Promise<{ position: number; resourceId: string; sequence: number; eventType: string }[]> {
      const rows = await ds.query<
        { position: string; resource_id: string; sequence: number; event_type: string }[]
      >(
        `SELECT position, resource_id, sequence, event_type FROM event_log WHERE position IS NOT NULL AND ${where} ORDER BY position`,
        params,
      );
      return rows.map((r) => ({
        position: Number(r.position),
        resourceId: r.resource_id,
        sequence: r.sequence,
        eventType: r.event_type,
      }));
    },
    teardown: pipeline.teardown,
  };
}

export type SseHarness = Awaited<ReturnType<typeof sseHarness>>;

/** Valid `order.updated` data for `orderId`; `n` makes each change distinct. */
export function orderUpdated(orderId: string, n: number) {
  return { orderId, changes: { notes: `change ${n}` } };
}
