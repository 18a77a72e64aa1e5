import { Client } from 'pg';

interface Infra {
  stop(): Promise<void>;
}

export default async function globalTeardown(): Promise<void> {
  const admin = process.env.TIDINGS_TEST_PG_ADMIN_URL;
  const template = process.env.TIDINGS_TEST_TEMPLATE_DB;
  if (admin && template) {
    const client = new Client({ connectionString: admin });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    // Test databases cloned from this run's template: tests drop their own, this catches leftovers when
    // the databases live on a shared server.
    await client.end();
  }
  await (globalThis as { __tidingsInfra?: Infra }).__tidingsInfra?.stop();
}
