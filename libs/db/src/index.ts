export * from './entities';
export * from './db.config';
export { createDataSource, dataSourceOptions, runMigrations } from './data-source';
export * from './outbox';
export * from './credentials';
export { MIGRATIONS } from './migrations';
