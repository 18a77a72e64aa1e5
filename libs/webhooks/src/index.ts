export * from './rules';
export * from './lifecycle';
export * from './webhooks.config';
