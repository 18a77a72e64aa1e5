export * from './runtime.config';
export * from './runtime.module';
export * from './bootstrap';
export * from './health.controller';
export {
  createRegistry,
  E2E_LATENCY_BUCKETS,
  HttpMetrics,
  METRICS_REGISTRY,
  secondsSinceCommit,
} from './metrics.controller';
export { lagOf, watchConsumerLag } from './consumer-lag';
export * from './problem.filter';
export * from './problems';
export * from './request-headers';
export * from './wake-up';
export * from './ordered-stop';
export * from './tracing';
export * from './logging';
