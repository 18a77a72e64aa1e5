import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { Mutation, type MutationRequest } from '../http/request.decorator';
import { OrderHistoryService, parseAsOf } from './order-history.service';
import {
  CancelOrderDto,
  CreateOrderDto,
  GetOrderQuery,
  ListOrdersQuery,
  PayOrderDto,
  ShipOrderDto,
  UpdateOrderDto,
} from './orders.dto';
import { OrdersService, type OrderView } from './orders.service';

type Outcome = { status: number; body: OrderView; replayed: boolean };

function send(res: Response, outcome: Outcome): OrderView {
  res.status(outcome.status);
  res.setHeader('ETag', `"${outcome.body.version}"`);
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return outcome.body;
}

@ApiTags('orders')
@ApiBearerAuth()
@ApiHeader({
  name: 'Idempotency-Key',
  required: false,
  description: 'On POST: replays the first response for 24 h',
})
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly history: OrderHistoryService,
  ) {}

  @Post()
  async create(
    @Tenant() t: TenantCtx,
    @Body() body: CreateOrderDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const outcome = await this.orders.create(t, body, m);
    res.setHeader('Location', `/orders/${outcome.body.id}`);
    return send(res, outcome);
  }

  @Get()
  list(@Tenant() t: TenantCtx, @Query() q: ListOrdersQuery) {
    return this.orders.list(t, q);
  }

  /** The order now, or with `asOf` (a time or a sequence) the order as it was then, folded from its events. */
  @Get(':id')
  async get(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Query() q: GetOrderQuery,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (q.asOf !== undefined) return this.history.asOf(t, id, parseAsOf(q.asOf));
    const order = await this.orders.get(t, id);
    res.setHeader('ETag', `"${order.version}"`);
    return order;
  }

  @Patch(':id')
  @ApiHeader({ name: 'If-Match', required: false })
  async update(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Body() body: UpdateOrderDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, { status: 200, body: await this.orders.update(t, id, body, m), replayed: false });
  }

  @Post(':id/pay')
  async pay(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Body() body: PayOrderDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.orders.pay(t, id, body.paymentReference, m));
  }

  @Post(':id/ship')
  async ship(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Body() body: ShipOrderDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.orders.ship(t, id, body.carrier, body.trackingNumber, m));
  }

  @Post(':id/deliver')
  async deliver(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.orders.deliver(t, id, m));
  }

  @Post(':id/cancel')
  async cancel(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Body() body: CancelOrderDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.orders.cancel(t, id, body.reason, m));
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@Tenant() t: TenantCtx, @Param('id') id: string, @Mutation() m: MutationRequest) {
    return this.orders.delete(t, id, m);
  }
}
