import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const admin = process.env.TIDINGS_TEST_PG_ADMIN_URL;
  const template = process.env.TIDINGS_TEST_TEMPLATE_DB;
  if (!admin || !template) return;
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  await client.end();
}
