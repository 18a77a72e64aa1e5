// `npm run db:migrate`: applies pending migrations to DATABASE_URL.
import { runMigrations } from '@tidings/db';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write(
    'DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tidings npm run db:migrate\n',
  );
  process.exit(2);
}
runMigrations(url).then(
  () => process.stdout.write('migrations applied\n'),
  (error: unknown) => {
    process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
