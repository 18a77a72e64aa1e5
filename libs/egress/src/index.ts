export { canonicalIp, classifyAddress, isForbiddenAddress, type ForbiddenRange } from './address';
export * from './webhook-url';
export * from './guard';
