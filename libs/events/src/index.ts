export * from './envelope';
export * from './catalogue';
export * from './event-type-pattern';
export * from './kafka-mapping';
export * from './asyncapi';
export type { OrderCreatedV1, OrderCreatedV2 } from './order.events';
