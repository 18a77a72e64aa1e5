import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import {
  APP_CONFIG,
  bearerToken,
  NotFoundProblem,
  TooManyRequestsProblem,
  UnauthorizedProblem,
} from '@tidings/runtime';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiConfig } from '../api.config';
import { RateLimiter } from '../auth/rate-limiter';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Admits the platform operator (ADMIN_API_KEY) to tenant creation. The key is compared as sha256 digests, so the
 * comparison takes the same time whatever the length of the guess; attempts are rate-limited per client address
 * before the key is looked at.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly limiter: RateLimiter;
  private readonly expected: Buffer | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: ApiConfig) {
    this.limiter = new RateLimiter(config.ADMIN_RATE_LIMIT_PER_SECOND, config.ADMIN_RATE_LIMIT_BURST);
    this.expected = config.ADMIN_API_KEY === undefined ? undefined : digest(config.ADMIN_API_KEY);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected)
      throw new NotFoundProblem('Tenant creation over HTTP is disabled (ADMIN_API_KEY is not set)');
    const req = context.switchToHttp().getRequest<Request>();
    const wait = this.limiter.take(req.socket.remoteAddress ?? 'unknown');
    if (wait > 0)
      throw new TooManyRequestsProblem(
        `Rate limit of ${this.config.ADMIN_RATE_LIMIT_PER_SECOND} requests/s exceeded for tenant creation`,
        wait,
      );
    const given = digest(bearerToken(req.headers.authorization) ?? '');
    if (!timingSafeEqual(given, this.expected))
      throw new UnauthorizedProblem('The platform admin key is required');
    return true;
  }
}
