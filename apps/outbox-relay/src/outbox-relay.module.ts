import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@tidings/runtime';
import { relayConfigSchema } from './outbox-relay.config';

@Module({})
export class OutboxRelayModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: OutboxRelayModule,
      imports: [RuntimeModule.forRoot({ app: 'outbox-relay', schema: relayConfigSchema, env })],
    };
  }
}
