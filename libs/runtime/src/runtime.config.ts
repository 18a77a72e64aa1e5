import { z } from 'zod';
import { parseAddressList } from './request-headers';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once, at boot, against an app's composed schema. Every problem names its
 * variable, so a wrong or missing value stops boot with a message the operator can act on.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = issue.path.join('.') || '(environment)';
      const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
      return `${variable}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`;
    }),
  );
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/**
 * The standard OpenTelemetry variables Tidings reads (tracing.ts). Tracing is OFF unless OTEL_TRACES_EXPORTER=otlp,
 * or an OTLP endpoint is set and OTEL_TRACES_EXPORTER is not `none`; OTEL_SDK_DISABLED=true wins over both.
 */
export const tracingConfigSchema = z.object({
  OTEL_SDK_DISABLED: bool(false),
  OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp'], { error: 'must be otlp or none' }).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url('must be an absolute URL').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url('must be an absolute URL').optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

export type TracingConfig = z.infer<typeof tracingConfigSchema>;

/** Variables every app reads. */
export const runtimeConfigSchema = tracingConfigSchema.extend({
  LOG_LEVEL: z.enum(['debug', 'log', 'warn', 'error']).default('log'),
  // 10 s: long enough for in-flight HTTP requests and loop iterations to finish, short enough for rollouts.
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  // 256 kB: ten times the largest event payload we accept (a 64 KiB message body, JSON-escaped); larger is a 413.
  HTTP_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'HTTP_BODY_LIMIT must look like 256kb or 1mb')
    .default('256kb'),
});

export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;

/** A comma-separated list of IP addresses and CIDR ranges (empty by default), parsed into a BlockList. */
export const addressList = () =>
  z
    .string()
    .default('')
    .transform((list, ctx) => {
      const { addresses, invalid } = parseAddressList(list);
      if (invalid.length > 0)
        ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR range: ${invalid.join(', ')}` });
      return addresses;
    });
