import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import type { z } from 'zod';

export const sseConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    SSE_PORT: port(3001),
  });

export type SseGatewayConfig = z.infer<typeof sseConfigSchema>;
