import { Injectable } from '@nestjs/common';
import type { OrderItem } from '@tidings/db';
import type { EventData, TypedEvent } from '@tidings/events';
import { ConflictProblem, ValidationProblem } from '@tidings/runtime';
import type { TenantCtx } from '../auth/tenant.decorator';
import type { MutationRequest } from '../http/request.decorator';
import { ResourcesService, type Filter } from '../resources/resources.service';
import { allowedFrom, canApply, TRANSITION_EVENT, type Transition } from './order-lifecycle';
import { ORDER, type OrderState, type OrderView } from './order.resource';
import type { CreateOrderDto, ListOrdersQuery, UpdateOrderDto } from './orders.dto';

export type { OrderView } from './order.resource';

/** The order total in minor units; beyond 2^53 it would lose precision in JSON, so it is refused. */
function total(items: OrderItem[]): number {
  const sum = items.reduce((acc, i) => acc + i.quantity * i.unitPriceMinor, 0);
  if (!Number.isSafeInteger(sum))
    throw new ValidationProblem(
      [{ field: 'items', message: 'quantity × unitPriceMinor summed must stay below 2^53' }],
      'The order total is too large',
    );
  return sum;
}

const itemsOf = (items: OrderItem[]) =>
  items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: i.unitPriceMinor }));

type StatusTransition = Exclude<Transition, 'update'>;

/**
 * Orders and their lifecycle: what each command checks and which event it emits. The aggregate kit
 * (ResourcesService) runs each in one transaction — lock the order row (tenant-scoped), check If-Match,
 * decide here, write the fold of the event to the row, append the event with sequence = the new version.
 */
@Injectable()
export class OrdersService {
  constructor(private readonly resources: ResourcesService) {}

  create(t: TenantCtx, dto: CreateOrderDto, req: MutationRequest) {
    return this.resources.create(ORDER, t, req, (id) => {
      const items = itemsOf(dto.items);
      return {
        eventType: 'order.created',
        data: {
          orderId: id,
          customer: { id: dto.customerId },
          currency: dto.currency,
          items,
          totalMinor: total(items),
          status: 'pending',
          notes: dto.notes ?? null,
          metadata: dto.metadata ?? {},
        },
      };
    });
  }

  get(t: TenantCtx, id: string): Promise<OrderView> {
    return this.resources.get(ORDER, t, id);
  }

  list(t: TenantCtx, q: ListOrdersQuery) {
    const filters: Filter[] = [];
    if (q.status) filters.push(['status = ?', q.status]);
    if (q.customerId) filters.push(['customer_id = ?', q.customerId]);
    if (q.createdAfter) filters.push(['created_at > ?', new Date(q.createdAfter)]);
    if (q.createdBefore) filters.push(['created_at < ?', new Date(q.createdBefore)]);
    return this.resources.list(ORDER, t, q, filters);
  }

  async update(t: TenantCtx, id: string, dto: UpdateOrderDto, req: MutationRequest): Promise<OrderView> {
    const outcome = await this.resources.change(
      ORDER,
      t,
      id,
      req,
      { name: 'update', idempotent: false },
      (order) => {
        if (!canApply('update', order.status)) throw conflict(order, 'update');
        const changes: EventData<'order.updated'>['changes'] = {};
        if (dto.customerId !== undefined && dto.customerId !== order.customerId)
          changes.customerId = dto.customerId;
        if (dto.items !== undefined) {
          if (order.status !== 'pending')
            throw new ConflictProblem('Items can only change while the order is pending', {
              currentStatus: order.status,
              currentVersion: order.version,
            });
          changes.items = itemsOf(dto.items);
          changes.totalMinor = total(changes.items);
        }
        if (dto.notes !== undefined && dto.notes !== order.notes) changes.notes = dto.notes;
        if (dto.metadata !== undefined) changes.metadata = dto.metadata;
        if (Object.keys(changes).length === 0)
          throw new ValidationProblem(
            [{ field: '(body)', message: 'name at least one field to change' }],
            'The patch changes nothing',
          );
        return { eventType: TRANSITION_EVENT.update, data: { orderId: id, changes } };
      },
    );
    return outcome.body;
  }

  pay(t: TenantCtx, id: string, paymentReference: string | undefined, req: MutationRequest) {
    return this.transition(t, id, req, 'pay', (o, at) => ({
      orderId: id,
      amountMinor: o.totalMinor,
      currency: o.currency,
      paymentReference: paymentReference ?? null,
      paidAt: at,
    }));
  }

  ship(
    t: TenantCtx,
    id: string,
    carrier: string | undefined,
    trackingNumber: string | undefined,
    req: MutationRequest,
  ) {
    return this.transition(t, id, req, 'ship', (_o, at) => ({
      orderId: id,
      carrier: carrier ?? null,
      trackingNumber: trackingNumber ?? null,
      shippedAt: at,
    }));
  }

  deliver(t: TenantCtx, id: string, req: MutationRequest) {
    return this.transition(t, id, req, 'deliver', (_o, at) => ({ orderId: id, deliveredAt: at }));
  }

  cancel(t: TenantCtx, id: string, reason: string | undefined, req: MutationRequest) {
    return this.transition(t, id, req, 'cancel', (_o, at) => ({
      orderId: id,
      reason: reason ?? null,
      cancelledAt: at,
    }));
  }

  async delete(t: TenantCtx, id: string, req: MutationRequest): Promise<void> {
    await this.resources.change(ORDER, t, id, req, { name: 'delete', idempotent: false }, (_o, at) => ({
      eventType: 'order.deleted',
      data: { orderId: id, deletedAt: at.toISOString() },
    }));
  }

  private transition<K extends StatusTransition>(
    t: TenantCtx,
    id: string,
    req: MutationRequest,
    transition: K,
    data: (order: OrderState, at: string) => EventData<(typeof TRANSITION_EVENT)[K]>,
  ) {
    return this.resources.change(ORDER, t, id, req, { name: 'transition', idempotent: true }, (order, at) => {
      if (!canApply(transition, order.status)) throw conflict(order, transition);
      // Type and payload come from the same entry of TRANSITION_EVENT; tsc cannot follow K through the pair.
      return { eventType: TRANSITION_EVENT[transition], data: data(order, at.toISOString()) } as TypedEvent;
    });
  }
}

function conflict(order: OrderState, transition: Transition): ConflictProblem {
  return new ConflictProblem(
    `Cannot ${transition} an order that is ${order.status} (allowed from: ${allowedFrom(transition).join(', ')})`,
    { currentStatus: order.status, currentVersion: order.version },
  );
}
