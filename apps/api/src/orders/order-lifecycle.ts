import type { OrderStatus } from '@tidings/db';

export type Transition = 'pay' | 'ship' | 'deliver' | 'cancel' | 'update';

/** Which statuses each transition may start from. Delivered and cancelled orders are final. */
const FROM: Record<Transition, readonly OrderStatus[]> = {
  pay: ['pending'],
  ship: ['paid'],
  deliver: ['shipped'],
  cancel: ['pending', 'paid'],
  update: ['pending', 'paid'],
};

const TO: Record<Exclude<Transition, 'update'>, OrderStatus> = {
  pay: 'paid',
  ship: 'shipped',
  deliver: 'delivered',
  cancel: 'cancelled',
};

export function canApply(transition: Transition, status: OrderStatus): boolean {
  return FROM[transition].includes(status);
}

export function statusAfter(transition: Exclude<Transition, 'update'>): OrderStatus {
  return TO[transition];
}

export function allowedFrom(transition: Transition): readonly OrderStatus[] {
  return FROM[transition];
}
