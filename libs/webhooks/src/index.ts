export * from './rules';
export * from './lifecycle';
