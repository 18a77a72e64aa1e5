import { Client } from 'pg';
import type { TestInfraHandle } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const handle = (globalThis as { __tidingsInfra?: TestInfraHandle }).__tidingsInfra;
  const admin = process.env.TIDINGS_TEST_PG_ADMIN_URL;
  const template = process.env.TIDINGS_TEST_TEMPLATE_DB;
  if (admin && template) {
    // Matters when the server outlives the run (DATABASE_URL given); a local one is deleted anyway.
    const client = new Client({ connectionString: admin });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    await client.end();
  }
  if (!handle) return;
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, handle.onSignal);
  await handle.infra.stop();
}
