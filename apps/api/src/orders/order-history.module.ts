import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module';
import { OrderHistoryController } from './order-history.controller';
import { OrderHistoryService } from './order-history.service';

/**
 * An order's past, read from the event log (`GET /orders/:id/history`, and the service behind
 * `GET /orders/:id?asOf=`). Separate from the orders module, which writes: this one only reads the log.
 */
@Module({
  imports: [ResourcesModule],
  controllers: [OrderHistoryController],
  providers: [OrderHistoryService],
  exports: [OrderHistoryService],
})
export class OrderHistoryModule {}
