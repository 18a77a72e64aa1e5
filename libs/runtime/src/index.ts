export * from './runtime.config';
export * from './runtime.module';
export * from './bootstrap';
export * from './health.controller';
export { METRICS_REGISTRY } from './metrics.controller';
export * from './problem.filter';
export * from './request-headers';
export * from './wake-up';
export * from './tracing';
