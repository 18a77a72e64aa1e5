import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { ApiIdempotencyKey, ApiIfMatch, Mutation, type MutationRequest } from '../http/request.decorator';
import { AsOfQuery, parseAsOf } from '../resources/resources.dto';
import { OrderHistoryService } from './order-history.service';
import {
  CancelOrderDto,
  CreateOrderDto,
  ListOrdersQuery,
  OrderDto,
  OrderPageDto,
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
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly history: OrderHistoryService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Place an order (emits order.created)' })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: OrderDto })
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
  @ApiOperation({ summary: "The tenant's orders, newest first" })
  @ApiOkResponse({ type: OrderPageDto })
  list(@Tenant() t: TenantCtx, @Query() q: ListOrdersQuery) {
    return this.orders.list(t, q);
  }

  /** The order now, or with `asOf` (a time or a sequence) the order as it was then, folded from its events. */
  @Get(':id')
  @ApiOperation({
    summary: 'One order, now or as it was at `asOf`',
    description: "With `asOf` (a sequence or an ISO 8601 time) the state is folded from the order's events.",
  })
  @ApiOkResponse({ type: OrderDto })
  async get(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Query() q: AsOfQuery,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (q.asOf !== undefined) return this.history.asOf(t, id, parseAsOf(q.asOf));
    const order = await this.orders.get(t, id);
    res.setHeader('ETag', `"${order.version}"`);
    return order;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change editable fields (emits order.updated)' })
  @ApiConflictResponse({
    description: 'The order is delivered or cancelled, or items change after payment (state in the body)',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiIfMatch()
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
  @HttpCode(200)
  @ApiIdempotencyKey()
  @ApiIfMatch()
  @ApiOperation({
    summary: 'Pay the order (emits order.payment_received); 409 from a state that does not allow it',
  })
  @ApiOkResponse({ type: OrderDto })
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
  @HttpCode(200)
  @ApiIdempotencyKey()
  @ApiIfMatch()
  @ApiOperation({ summary: 'Ship the order (emits order.shipped); 409 from a state that does not allow it' })
  @ApiOkResponse({ type: OrderDto })
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
  @HttpCode(200)
  @ApiIdempotencyKey()
  @ApiIfMatch()
  @ApiOperation({
    summary: 'Deliver the order (emits order.delivered); 409 from a state that does not allow it',
  })
  @ApiOkResponse({ type: OrderDto })
  async deliver(
    @Tenant() t: TenantCtx,
    @Param('id') id: string,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.orders.deliver(t, id, m));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiIdempotencyKey()
  @ApiIfMatch()
  @ApiOperation({
    summary: 'Cancel the order (emits order.cancelled); 409 from a state that does not allow it',
  })
  @ApiOkResponse({ type: OrderDto })
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
  @ApiOperation({ summary: 'Delete the order (emits order.deleted)' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  delete(@Tenant() t: TenantCtx, @Param('id') id: string, @Mutation() m: MutationRequest) {
    return this.orders.delete(t, id, m);
  }
}
