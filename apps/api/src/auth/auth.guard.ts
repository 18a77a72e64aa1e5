import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyEntity, defaultScope, grantsScope, hashCredential, type ApiKeyScope } from '@tidings/db';
import {
  APP_CONFIG,
  bearerToken,
  ForbiddenProblem,
  TooManyRequestsProblem,
  UnauthorizedProblem,
} from '@tidings/runtime';
import type { Request } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { ApiConfig } from '../api.config';
import { RateLimiter } from './rate-limiter';
import { PUBLIC_KEY, SCOPE_KEY, type TenantCtx } from './tenant.decorator';

// Operational endpoints served by the runtime and the docs are reachable without a key.
const OPEN_PATHS = /^\/(health|metrics|docs)(\/|-json|$)/;
// tdk_ + 12-character id: the public prefix stored in api_keys.prefix (see newCredential in @tidings/db).
const API_KEY = /^(tdk_[A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{43}$/;

/**
 * Authenticates every request with its API key and enforces scopes: GET/HEAD need `read`, other methods
 * `write`, unless the route says otherwise with @RequireScope. The tenant comes from the key only.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly cache = new Map<string, { key: ApiKeyEntity; until: number }>();
  private readonly limiter: RateLimiter;

  constructor(
    private readonly reflector: Reflector,
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {
    this.limiter = new RateLimiter(config.RATE_LIMIT_PER_SECOND, config.RATE_LIMIT_BURST);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request & { tenant?: TenantCtx }>();
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) || OPEN_PATHS.test(req.path))
      return true;
    const header = req.headers.authorization;
    if (!header) throw new UnauthorizedProblem('An API key is required: Authorization: Bearer <key>');
    const credential = bearerToken(header);
    if (!credential || !API_KEY.test(credential)) throw new UnauthorizedProblem('Malformed API key');
    const key = await this.lookup(credential);
    if (!key) throw new UnauthorizedProblem('Unknown or revoked API key');
    const required =
      this.reflector.getAllAndOverride<ApiKeyScope | undefined>(SCOPE_KEY, targets) ??
      defaultScope(req.method);
    if (!grantsScope(key.scopes, required))
      throw new ForbiddenProblem(`This route needs the ${required} scope`);
    const wait = this.limiter.take(key.id);
    if (wait > 0) {
      throw new TooManyRequestsProblem(
        `Rate limit of ${this.config.RATE_LIMIT_PER_SECOND} requests/s exceeded for this API key`,
        wait,
      );
    }
    req.tenant = { tenantId: key.tenantId, apiKeyId: key.id, scopes: key.scopes };
    return true;
  }

  /** Drops a key from this process's cache (called on revocation). */
  forget(apiKeyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.key.id === apiKeyId) this.cache.delete(hash);
  }

  private async lookup(credential: string): Promise<ApiKeyEntity | undefined> {
    const hash = hashCredential(credential);
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.key;
    const prefix = API_KEY.exec(credential)![1];
    const key = await this.ds.getRepository(ApiKeyEntity).findOneBy({ prefix });
    const valid =
      key !== null &&
      key.revokedAt === null &&
      timingSafeEqual(Buffer.from(key.secretHash), Buffer.from(hash));
    if (!valid) return undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { key, until: Date.now() + this.config.AUTH_CACHE_MS });
    return key;
  }
}
