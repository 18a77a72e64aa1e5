import { z } from 'zod';

/** The variables libs/db reads; apps compose this fragment into their own config schema. */
export const dbConfigSchema = z.object({
  DATABASE_URL: z
    .string({ error: 'DATABASE_URL is required (postgres://user:pass@host:port/db)' })
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL'),
  // Two cores serve everything in dev; ten connections per process keep Postgres under its default 100.
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
});

export type DbConfig = z.infer<typeof dbConfigSchema>;
