// Entry point for the TypeORM CLI only (`npm run db:generate`): it needs a module whose default export is a
// DataSource. Apps and tests never import this file; they call createDataSource() with parsed config.
import { createDataSource } from './data-source';

export default createDataSource(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tidings');
