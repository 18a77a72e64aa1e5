import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { transaction, type Tx } from '@tidings/db';
import { APP_CONFIG, BadRequestProblem, ConflictProblem, UnprocessableProblem } from '@tidings/runtime';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { ApiConfig } from '../api.config';

export interface Outcome<T> {
  status: number;
  body: T;
}

export interface IdempotentRequest {
  tenantId: string;
  /** The Idempotency-Key header, when the client sent one. */
  key?: string;
  method: string;
  path: string;
  body: unknown;
}

// Keys are opaque client strings; 1–255 printable ASCII characters covers UUIDs and ULIDs with room to spare.
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Idempotency-Key for POSTs. The key row is written in the SAME transaction as the mutation, so a committed
 * mutation always has its recorded response and a rolled-back one never does. A transaction-scoped advisory
 * lock on (tenant, key) makes a concurrent duplicate fail fast with 409 instead of running twice; after
 * commit, the same request replays the stored status and body, a different request with the key is a 422.
 * Used by every POST on orders and messages. Not by the POSTs whose response carries a secret shown once
 * (/tenants, /api-keys, /stream-tokens): replaying them would mean storing that secret in plain text here.
 */
@Injectable()
export class IdempotencyService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Idempotency');

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  // Expired keys are purged every IDEMPOTENCY_CLEANUP_MS: lookups already ignore them, this only reclaims space,
  // and a DELETE by expiry is safe to run on every replica at once. ScheduleModule clears the interval on shutdown.
  onApplicationBootstrap(): void {
    this.scheduler.addInterval(
      'idempotency-cleanup',
      setInterval(() => void this.purgeExpired(), this.config.IDEMPOTENCY_CLEANUP_MS),
    );
  }

  async execute<T>(
    req: IdempotentRequest,
    work: (tx: Tx) => Promise<Outcome<T>>,
  ): Promise<Outcome<T> & { replayed: boolean }> {
    if (req.key === undefined) return { ...(await transaction(this.ds, work)), replayed: false };
    if (!IDEMPOTENCY_KEY.test(req.key))
      throw new BadRequestProblem('Idempotency-Key must be 1–255 printable ASCII characters');
    const hash = createHash('sha256')
      .update(`${req.method} ${req.path}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');
    return transaction(this.ds, async (tx) => {
      const [{ locked }] = (await tx.query(
        'SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS locked',
        [req.tenantId, req.key],
      )) as {
        locked: boolean;
      }[];
      if (!locked)
        throw new ConflictProblem(
          'A request with this Idempotency-Key is still in progress',
          {},
          { 'Retry-After': '1' },
        );
      const [stored] = (await tx.query(
        'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at > now()',
        [req.tenantId, req.key],
      )) as { request_hash: string; response_status: number; response_body: T }[];
      if (stored) {
        if (stored.request_hash !== hash) {
          throw new UnprocessableProblem('This Idempotency-Key was already used with a different request');
        }
        return { status: stored.response_status, body: stored.response_body, replayed: true };
      }
      const outcome = await work(tx);
      await tx.query(
        `INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_status, response_body, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = EXCLUDED.response_status,
           response_body = EXCLUDED.response_body, created_at = now(), expires_at = EXCLUDED.expires_at`,
        [
          req.tenantId,
          req.key,
          hash,
          outcome.status,
          JSON.stringify(outcome.body),
          this.config.IDEMPOTENCY_TTL_HOURS,
        ],
      );
      return { ...outcome, replayed: false };
    });
  }

  async purgeExpired(): Promise<number> {
    try {
      const [, deleted] = (await this.ds.query('DELETE FROM idempotency_keys WHERE expires_at <= now()')) as [
        unknown,
        number,
      ];
      return deleted;
    } catch (error) {
      this.logger.warn(
        `idempotency cleanup failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 0;
    }
  }
}
