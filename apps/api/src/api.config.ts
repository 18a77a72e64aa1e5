import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import { z } from 'zod';

export const apiConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    API_PORT: port(3000),
    // The platform operator's key for POST /tenants. Unset = tenant creation over HTTP is off (use the CLI).
    ADMIN_API_KEY: z.string().min(16, 'ADMIN_API_KEY must be at least 16 characters').optional(),
    // Authenticated keys are cached this long per process: a revoked key stops working within this window
    // on other API replicas (immediately on the one that revoked it).
    AUTH_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;
