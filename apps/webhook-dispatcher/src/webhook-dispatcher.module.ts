import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@tidings/runtime';
import { dispatcherConfigSchema } from './webhook-dispatcher.config';

@Module({})
export class WebhookDispatcherModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: WebhookDispatcherModule,
      imports: [RuntimeModule.forRoot({ app: 'webhook-dispatcher', schema: dispatcherConfigSchema, env })],
    };
  }
}
