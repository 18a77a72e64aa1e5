import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import type { z } from 'zod';

export const relayConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    RELAY_PORT: port(3002),
  });

export type OutboxRelayConfig = z.infer<typeof relayConfigSchema>;
