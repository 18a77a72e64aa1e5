export * from './secret';
export * from './signature';
export * from './receiver';
export * from './webhook-event';
