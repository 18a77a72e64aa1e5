import { type DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { RuntimeModule } from '@tidings/runtime';
import { StreamModule } from './stream/stream.module';
import { sseConfigSchema } from './sse-gateway.config';

@Module({})
export class SseGatewayModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: SseGatewayModule,
      imports: [
        RuntimeModule.forRoot({ app: 'sse-gateway', schema: sseConfigSchema, env }),
        ScheduleModule.forRoot(),
        StreamModule,
      ],
    };
  }
}
