export * from './secret';
export * from './signature';
export * from './receiver';
