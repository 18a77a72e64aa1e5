import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { port, runtimeConfigSchema } from '@tidings/runtime';
import type { z } from 'zod';

export const dispatcherConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    DISPATCHER_PORT: port(3003),
  });

export type WebhookDispatcherConfig = z.infer<typeof dispatcherConfigSchema>;
