import { FoldError } from '../resources/resource';
import { ORDER, type OrderState } from './order.resource';

// The order's fold is declared in order.resource.ts (with its state); these are its names for readers of one order.
export { FoldError, type OrderState };
export const applyOrderEvent = ORDER.applyEvent;
export const foldOrder = ORDER.fold;
