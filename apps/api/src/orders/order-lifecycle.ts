import type { OrderStatus } from '@tidings/db';
import type { KnownEventType } from '@tidings/events';

/** Every status, in lifecycle order: the state's enum, the list filter and the documents name these. */
export const ORDER_STATUSES = [
  'pending',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
] as const satisfies readonly OrderStatus[];

export type Transition = 'pay' | 'ship' | 'deliver' | 'cancel' | 'update';
type StatusTransition = Exclude<Transition, 'update'>;

/** The event each transition emits: the one table from lifecycle step to catalogue type. */
export const TRANSITION_EVENT = {
  pay: 'order.payment_received',
  ship: 'order.shipped',
  deliver: 'order.delivered',
  cancel: 'order.cancelled',
  update: 'order.updated',
} as const satisfies Record<Transition, KnownEventType>;

/** Which statuses each transition may start from. Delivered and cancelled orders are final. */
const FROM: Record<Transition, readonly OrderStatus[]> = {
  pay: ['pending'],
  ship: ['paid'],
  deliver: ['shipped'],
  cancel: ['pending', 'paid'],
  update: ['pending', 'paid'],
};

const TO: Record<StatusTransition, OrderStatus> = {
  pay: 'paid',
  ship: 'shipped',
  deliver: 'delivered',
  cancel: 'cancelled',
};

export function canApply(transition: Transition, status: OrderStatus): boolean {
  return FROM[transition].includes(status);
}

export function statusAfter(transition: StatusTransition): OrderStatus {
  return TO[transition];
}

export function allowedFrom(transition: Transition): readonly OrderStatus[] {
  return FROM[transition];
}
