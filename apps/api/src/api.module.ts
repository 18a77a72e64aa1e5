import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@tidings/runtime';
import { apiConfigSchema } from './api.config';

@Module({})
export class ApiModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: ApiModule,
      imports: [RuntimeModule.forRoot({ app: 'api', schema: apiConfigSchema, env })],
    };
  }
}
