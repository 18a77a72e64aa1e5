import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module';
import { OrderHistoryModule } from './order-history.module';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

@Module({
  imports: [ResourcesModule, OrderHistoryModule],
  controllers: [OrdersController],
  providers: [OrdersService],
})
export class OrdersModule {}
