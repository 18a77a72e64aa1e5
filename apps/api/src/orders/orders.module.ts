import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrderHistoryModule } from './order-history.module';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

@Module({
  imports: [IdempotencyModule, OrderHistoryModule],
  controllers: [OrdersController],
  providers: [OrdersService],
})
export class OrdersModule {}
