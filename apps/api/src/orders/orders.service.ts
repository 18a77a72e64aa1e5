import { Injectable } from '@nestjs/common';
import { appendEvent, type OrderItem, type OrderStatus, type Tx } from '@tidings/db';
import { buildEvent, type TypedEvent } from '@tidings/events';
import { inSpan, NotFoundProblem, ProblemError } from '@tidings/runtime';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import type { TenantCtx } from '../auth/tenant.decorator';
import { decodeTimeCursor, encodeTimeCursor } from '../http/cursor';
import { IdempotencyService, type Outcome } from '../idempotency/idempotency.service';
import {
  allowedFrom,
  canApply,
  statusAfter,
  TRANSITION_EVENT,
  type Transition,
  type TransitionEvent,
} from './order-lifecycle';
import type { CreateOrderDto, ListOrdersQuery, UpdateOrderDto } from './orders.dto';

export interface OrderView {
  id: string;
  customerId: string;
  currency: string;
  items: OrderItem[];
  totalMinor: number;
  status: OrderStatus;
  notes: string | null;
  metadata: Record<string, string>;
  paymentReference: string | null;
  carrier: string | null;
  trackingNumber: string | null;
  cancelReason: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

interface OrderRow {
  id: string;
  tenant_id: string;
  customer_id: string;
  currency: string;
  items: OrderItem[];
  total_minor: string;
  status: OrderStatus;
  notes: string | null;
  metadata: Record<string, string>;
  payment_reference: string | null;
  carrier: string | null;
  tracking_number: string | null;
  cancel_reason: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export function toOrderView(r: OrderRow): OrderView {
  return {
    id: r.id,
    customerId: r.customer_id,
    currency: r.currency,
    items: r.items,
    totalMinor: Number(r.total_minor),
    status: r.status,
    notes: r.notes,
    metadata: r.metadata,
    paymentReference: r.payment_reference,
    carrier: r.carrier,
    trackingNumber: r.tracking_number,
    cancelReason: r.cancel_reason,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** TypeORM answers UPDATE … RETURNING with [rows, affected]; this returns the one updated row. */
async function updateReturning(tx: Tx, sql: string, params: unknown[]): Promise<OrderRow> {
  const [rows] = (await tx.query(sql, params)) as [OrderRow[], number];
  return rows[0];
}

/** The order total in minor units; beyond 2^53 it would lose precision in JSON, so it is refused. */
function total(items: OrderItem[]): number {
  const sum = items.reduce((acc, i) => acc + i.quantity * i.unitPriceMinor, 0);
  if (!Number.isSafeInteger(sum))
    throw new ProblemError(400, 'Bad Request', 'The order total is too large', {
      errors: [{ field: 'items', message: 'quantity × unitPriceMinor summed must stay below 2^53' }],
    });
  return sum;
}

export interface Request {
  idempotencyKey?: string;
  ifMatch?: number;
  traceparent?: string;
  path: string;
  body: unknown;
}

/**
 * Orders and their lifecycle. Every mutation runs in one transaction: lock the order row (tenant-scoped),
 * check If-Match and the lifecycle, write the projection, and append the event with sequence = the new
 * version — the change and its event commit together or not at all.
 */
/** The catalogue event of a status transition: its type from the one table, its checked payload. */
function typedEvent(m: TransitionEvent): TypedEvent {
  switch (m.transition) {
    case 'pay':
      return { eventType: TRANSITION_EVENT.pay, data: m.data };
    case 'ship':
      return { eventType: TRANSITION_EVENT.ship, data: m.data };
    case 'deliver':
      return { eventType: TRANSITION_EVENT.deliver, data: m.data };
    case 'cancel':
      return { eventType: TRANSITION_EVENT.cancel, data: m.data };
  }
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly ds: DataSource,
    private readonly idempotency: IdempotencyService,
  ) {}

  create(
    t: TenantCtx,
    dto: CreateOrderDto,
    req: Request,
  ): Promise<Outcome<OrderView> & { replayed: boolean }> {
    return inSpan('transaction order.create', { parent: req.traceparent }, (span) =>
      this.idempotency.execute(
        { tenantId: t.tenantId, key: req.idempotencyKey, method: 'POST', path: req.path, body: req.body },
        async (tx) => {
          const id = `ord_${uuidv7().replace(/-/g, '')}`;
          const now = new Date();
          const items = dto.items.map((i) => ({
            sku: i.sku,
            quantity: i.quantity,
            unitPriceMinor: i.unitPriceMinor,
          }));
          const totalMinor = total(items);
          const event = buildEvent({
            eventType: 'order.created',
            tenantId: t.tenantId,
            resourceId: id,
            sequence: 1,
            source: 'tidings/api',
            timestamp: now,
            data: {
              orderId: id,
              customer: { id: dto.customerId },
              currency: dto.currency,
              items,
              totalMinor,
              status: 'pending',
              notes: dto.notes ?? null,
              metadata: dto.metadata ?? {},
            },
          });
          const [row] = (await tx.query(
            `INSERT INTO orders (id, tenant_id, customer_id, currency, items, total_minor, status, notes, metadata, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, 1, $9, $9) RETURNING *`,
            [
              id,
              t.tenantId,
              dto.customerId,
              dto.currency,
              JSON.stringify(items),
              totalMinor,
              dto.notes ?? null,
              JSON.stringify(dto.metadata ?? {}),
              now,
            ],
          )) as OrderRow[];
          await appendEvent(tx, event, span.traceparent);
          return { status: 201, body: toOrderView(row) };
        },
      ),
    );
  }

  async get(t: TenantCtx, id: string): Promise<OrderView> {
    const [row] = (await this.ds.query(
      'SELECT * FROM orders WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL',
      [id, t.tenantId],
    )) as OrderRow[];
    if (!row) throw new NotFoundProblem('Order', id);
    return toOrderView(row);
  }

  async list(t: TenantCtx, q: ListOrdersQuery): Promise<{ data: OrderView[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    const where = ['tenant_id = $1', 'deleted_at IS NULL'];
    const params: unknown[] = [t.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.status) add('status = ?', q.status);
    if (q.customerId) add('customer_id = ?', q.customerId);
    if (q.createdAfter) add('created_at > ?', new Date(q.createdAfter));
    if (q.createdBefore) add('created_at < ?', new Date(q.createdBefore));
    const c = decodeTimeCursor(q.cursor, 'ord_');
    if (c) {
      params.push(c.createdAt, c.id);
      where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit + 1);
    const rows = (await this.ds.query(
      `SELECT * FROM orders WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )) as OrderRow[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map(toOrderView),
      nextCursor: rows.length > limit && last ? encodeTimeCursor(last.created_at, last.id) : null,
    };
  }

  update(t: TenantCtx, id: string, dto: UpdateOrderDto, req: Request): Promise<OrderView> {
    return inSpan('transaction order.update', { parent: req.traceparent }, (span) =>
      this.ds.transaction(async (em) => {
        const tx = em as Tx;
        const order = await this.lock(tx, t, id, req.ifMatch);
        if (!canApply('update', order.status)) throw this.conflict(order, 'update');
        const changes: Record<string, unknown> = {};
        if (dto.customerId !== undefined && dto.customerId !== order.customer_id)
          changes.customerId = dto.customerId;
        if (dto.items !== undefined) {
          if (order.status !== 'pending')
            throw new ProblemError(409, 'Conflict', 'Items can only change while the order is pending', {
              currentStatus: order.status,
              currentVersion: order.version,
            });
          changes.items = dto.items.map((i) => ({
            sku: i.sku,
            quantity: i.quantity,
            unitPriceMinor: i.unitPriceMinor,
          }));
          changes.totalMinor = total(changes.items as OrderItem[]);
        }
        if (dto.notes !== undefined && dto.notes !== order.notes) changes.notes = dto.notes;
        if (dto.metadata !== undefined) changes.metadata = dto.metadata;
        if (Object.keys(changes).length === 0)
          throw new ProblemError(400, 'Bad Request', 'The patch changes nothing', {
            errors: [{ field: '(body)', message: 'name at least one field to change' }],
          });
        const now = new Date();
        const version = order.version + 1;
        const row = await updateReturning(
          tx,
          `UPDATE orders SET customer_id = COALESCE($3, customer_id), items = COALESCE($4::jsonb, items), total_minor = COALESCE($5, total_minor),
           notes = CASE WHEN $6::boolean THEN $7 ELSE notes END, metadata = COALESCE($8::jsonb, metadata), version = $9, updated_at = $10
         WHERE id = $1 AND tenant_id = $2 RETURNING *`,
          [
            id,
            t.tenantId,
            changes.customerId ?? null,
            changes.items ? JSON.stringify(changes.items) : null,
            changes.totalMinor ?? null,
            'notes' in changes,
            changes.notes ?? null,
            changes.metadata ? JSON.stringify(changes.metadata) : null,
            version,
            now,
          ],
        );
        await appendEvent(
          tx,
          buildEvent({
            eventType: 'order.updated',
            tenantId: t.tenantId,
            resourceId: id,
            sequence: version,
            source: 'tidings/api',
            timestamp: now,
            data: { orderId: id, changes },
          }),
          span.traceparent,
        );
        return toOrderView(row);
      }),
    );
  }

  pay(t: TenantCtx, id: string, paymentReference: string | undefined, req: Request) {
    return this.transition(t, id, req, (o, at) => ({
      transition: 'pay',
      data: {
        orderId: id,
        amountMinor: Number(o.total_minor),
        currency: o.currency,
        paymentReference: paymentReference ?? null,
        paidAt: at,
      },
    }));
  }

  ship(
    t: TenantCtx,
    id: string,
    carrier: string | undefined,
    trackingNumber: string | undefined,
    req: Request,
  ) {
    return this.transition(t, id, req, (_o, at) => ({
      transition: 'ship',
      data: { orderId: id, carrier: carrier ?? null, trackingNumber: trackingNumber ?? null, shippedAt: at },
    }));
  }

  deliver(t: TenantCtx, id: string, req: Request) {
    return this.transition(t, id, req, (_o, at) => ({
      transition: 'deliver',
      data: { orderId: id, deliveredAt: at },
    }));
  }

  cancel(t: TenantCtx, id: string, reason: string | undefined, req: Request) {
    return this.transition(t, id, req, (_o, at) => ({
      transition: 'cancel',
      data: { orderId: id, reason: reason ?? null, cancelledAt: at },
    }));
  }

  delete(t: TenantCtx, id: string, req: Request): Promise<void> {
    return inSpan('transaction order.delete', { parent: req.traceparent }, (span) =>
      this.ds.transaction(async (em) => {
        const tx = em as Tx;
        const order = await this.lock(tx, t, id, req.ifMatch);
        const now = new Date();
        const version = order.version + 1;
        await tx.query(
          'UPDATE orders SET deleted_at = $3, version = $4, updated_at = $3 WHERE id = $1 AND tenant_id = $2',
          [id, t.tenantId, now, version],
        );
        await appendEvent(
          tx,
          buildEvent({
            eventType: 'order.deleted',
            tenantId: t.tenantId,
            resourceId: id,
            sequence: version,
            source: 'tidings/api',
            timestamp: now,
            data: { orderId: id, deletedAt: now.toISOString() },
          }),
          span.traceparent,
        );
      }),
    );
  }

  private transition(
    t: TenantCtx,
    id: string,
    req: Request,
    mutation: (order: OrderRow, at: string) => TransitionEvent,
  ) {
    return inSpan('transaction order.transition', { parent: req.traceparent }, (span) =>
      this.idempotency.execute(
        { tenantId: t.tenantId, key: req.idempotencyKey, method: 'POST', path: req.path, body: req.body },
        async (tx) => {
          const order = await this.lock(tx, t, id, req.ifMatch);
          const now = new Date();
          const m = mutation(order, now.toISOString());
          const { transition } = m;
          if (!canApply(transition, order.status)) throw this.conflict(order, transition);
          const version = order.version + 1;
          const row = await updateReturning(
            tx,
            `UPDATE orders SET status = $3, version = $4, updated_at = $5,
           payment_reference = CASE WHEN $6::boolean THEN $7 ELSE payment_reference END,
           carrier = CASE WHEN $8::boolean THEN $9 ELSE carrier END,
           tracking_number = CASE WHEN $8::boolean THEN $10 ELSE tracking_number END,
           cancel_reason = CASE WHEN $11::boolean THEN $12 ELSE cancel_reason END
         WHERE id = $1 AND tenant_id = $2 RETURNING *`,
            [
              id,
              t.tenantId,
              statusAfter(transition),
              version,
              now,
              m.transition === 'pay',
              m.transition === 'pay' ? m.data.paymentReference : null,
              m.transition === 'ship',
              m.transition === 'ship' ? m.data.carrier : null,
              m.transition === 'ship' ? m.data.trackingNumber : null,
              m.transition === 'cancel',
              m.transition === 'cancel' ? m.data.reason : null,
            ],
          );
          await appendEvent(
            tx,
            buildEvent({
              ...typedEvent(m),
              tenantId: t.tenantId,
              resourceId: id,
              sequence: version,
              source: 'tidings/api',
              timestamp: now,
            }),
            span.traceparent,
          );
          return { status: 200, body: toOrderView(row) };
        },
      ),
    );
  }

  /** Locks the tenant's order row for this transaction; 404 when missing, deleted or another tenant's. */
  private async lock(tx: Tx, t: TenantCtx, id: string, ifMatch: number | undefined): Promise<OrderRow> {
    const [order] = (await tx.query(
      'SELECT * FROM orders WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL FOR UPDATE',
      [id, t.tenantId],
    )) as OrderRow[];
    if (!order) throw new NotFoundProblem('Order', id);
    if (ifMatch !== undefined && ifMatch !== order.version) {
      throw new ProblemError(
        412,
        'Precondition Failed',
        `If-Match ${ifMatch} does not match the current version ${order.version}`,
        { currentVersion: order.version },
        { ETag: `"${order.version}"` },
      );
    }
    return order;
  }

  private conflict(order: OrderRow, transition: Transition): ProblemError {
    return new ProblemError(
      409,
      'Conflict',
      `Cannot ${transition} an order that is ${order.status} (allowed from: ${allowedFrom(transition).join(', ')})`,
      {
        currentStatus: order.status,
        currentVersion: order.version,
      },
    );
  }
}
