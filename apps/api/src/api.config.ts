import { dbConfigSchema } from '@tidings/db';
import { egressConfigSchema } from '@tidings/egress';
import { kafkaConfigSchema } from '@tidings/kafka';
import { bool, port, runtimeConfigSchema } from '@tidings/runtime';
import { webhooksConfigSchema } from '@tidings/webhooks';
import { z } from 'zod';

export const apiConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend(egressConfigSchema.shape)
  .extend(webhooksConfigSchema.shape)
  .extend({
    API_PORT: port(3000),
    // The platform operator's key for POST /tenants. Unset = tenant creation over HTTP is off (use the CLI).
    ADMIN_API_KEY: z.string().min(16, 'ADMIN_API_KEY must be at least 16 characters').optional(),
    // Authenticated keys are cached this long per process: a revoked key stops working within this window
    // on other API replicas (immediately on the one that revoked it).
    AUTH_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
    // 24 h: a client retrying after an outage of up to a day still gets the original response, not a duplicate.
    IDEMPOTENCY_TTL_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24),
    // Expired keys are deleted every 10 min: they are already ignored, so this only bounds the table's size.
    IDEMPOTENCY_CLEANUP_MS: z.coerce.number().int().min(100).max(86_400_000).default(600_000),
    // Per API key and process: 200 requests/s sustained with bursts of 400 keeps one client from starving
    // the others on a small deployment; raise it with the replica count.
    RATE_LIMIT_PER_SECOND: z.coerce.number().min(1).max(1_000_000).default(200),
    RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(400),
    // POST /tenants per client address: one a second with bursts of 10 is plenty for an operator's scripts,
    // and keeps anyone from hammering the admin key check.
    ADMIN_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0.01).max(1_000_000).default(1),
    ADMIN_RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(10),
    // Webhook URLs must be https in production; local development and tests turn this on to use http.
    WEBHOOK_ALLOW_HTTP: bool(false),
    // Where browsers reach the SSE gateway: the console's live stream connects there (and its CSP allows it).
    // Default: the gateway of `npm run dev` (SSE_PORT 3001) as a browser on the same machine sees it.
    CONSOLE_STREAM_URL: z
      .string()
      .url('CONSOLE_STREAM_URL must be an absolute http(s) URL')
      .regex(/^https?:\/\//, 'CONSOLE_STREAM_URL must be an absolute http(s) URL')
      .transform((s) => s.replace(/\/+$/, ''))
      .default('http://localhost:3001'),
    // 24 h: after a rotation the old secret keeps signing (both signatures sent) for a day, long enough for a
    // subscriber to deploy the new secret without rejecting a single delivery.
    WEBHOOK_SECRET_GRACE_HOURS: z.coerce.number().min(0).max(720).default(24),
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;
