import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { ApiKeyScope } from '@tidings/db';

/** Who is calling: derived from the API key, never from the request body (DESIGN.md §2.6). */
export interface TenantCtx {
  tenantId: string;
  apiKeyId: string;
  scopes: ApiKeyScope[];
}

export const SCOPE_KEY = 'tidings:scope';
export const PUBLIC_KEY = 'tidings:public';

/**
 * The scope a route needs. Without it: GET/HEAD need `read`, everything else `write`. Scopes nest:
 * admin ⊇ write ⊇ read.
 */
export const RequireScope = (scope: ApiKeyScope) => SetMetadata(SCOPE_KEY, scope);

/** Routes reachable without an API key (the admin bootstrap uses its own check). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The authenticated tenant, set on the request by AuthGuard. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantCtx => {
  const req = ctx.switchToHttp().getRequest<{ tenant?: TenantCtx }>();
  if (!req.tenant) throw new Error('Tenant() used on a route that AuthGuard did not authenticate');
  return req.tenant;
});
