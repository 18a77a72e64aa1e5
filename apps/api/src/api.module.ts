import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@tidings/runtime';
import { apiConfigSchema } from './api.config';
import { AuthModule } from './auth/auth.module';
import { EventTypesModule } from './event-types/event-types.module';
import { EventsModule } from './events/events.module';
import { OrderHistoryModule } from './orders/order-history.module';

@Module({})
export class ApiModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        RuntimeModule.forRoot({ app: 'api', schema: apiConfigSchema, env }),
        AuthModule,
        EventsModule,
        EventTypesModule,
        OrderHistoryModule,
      ],
    };
  }
}
