export { canonicalIp, classifyAddress, isForbiddenAddress, type ForbiddenRange } from './address';
export * from './egress.config';
export * from './webhook-url';
export * from './guard';
