import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { RuntimeModule, traceRequest } from '@tidings/runtime';
import { apiConfigSchema } from './api.config';
import { AlertEndpointModule } from './alert-endpoint/alert-endpoint.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { ConsoleModule } from './console/console.module';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { DeliveriesModule } from './deliveries/deliveries.module';
import { EventTypesModule } from './event-types/event-types.module';
import { EventsModule } from './events/events.module';
import { RequestGuardMiddleware } from './http/request-guard.middleware';
import { createValidationPipe } from './http/validation.pipe';
import { MessagesModule } from './messages/messages.module';
import { MetricsModule } from './metrics/metrics.module';
import { OrderHistoryModule } from './orders/order-history.module';
import { OrdersModule } from './orders/orders.module';
import { StreamTokensModule } from './stream-tokens/stream-tokens.module';
import { TenantsModule } from './tenants/tenants.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class ApiModule implements NestModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        RuntimeModule.forRoot({ app: 'api', schema: apiConfigSchema, env }),
        ScheduleModule.forRoot(),
        MetricsModule,
        AuthModule,
        TenantsModule,
        ApiKeysModule,
        StreamTokensModule,
        EventsModule,
        EventTypesModule,
        OrderHistoryModule,
        OrdersModule,
        MessagesModule,
        WebhooksModule,
        AlertEndpointModule,
        DeliveriesModule,
        DeadLettersModule,
        ConsoleModule,
      ],
      // DTO validation for every route (http/validation.pipe.ts).
      providers: [{ provide: APP_PIPE, useFactory: createValidationPipe }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // The SERVER span first, so requests the guard refuses are traced too.
    consumer.apply(traceRequest, RequestGuardMiddleware).forRoutes('*');
  }
}
