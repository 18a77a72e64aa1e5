// Interim global setup (the full provisioning module replaces it): uses DATABASE_URL and KAFKA_BROKERS from
// the environment, creates a uniquely named template database migrated to the latest schema.
import { Client } from 'pg';
import { runMigrations } from '../../libs/db/src/data-source';

export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || !process.env.KAFKA_BROKERS) {
    throw new Error('Set DATABASE_URL and KAFKA_BROKERS (source .dev-infra.env) until provisioning lands');
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const template = `tidings_template_${process.pid}_${Date.now().toString(36)}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${template}`);
  await client.end();
  const templateUrl = new URL(admin.toString());
  templateUrl.pathname = `/${template}`;
  await runMigrations(templateUrl.toString());
  process.env.TIDINGS_TEST_PG_ADMIN_URL = admin.toString();
  process.env.TIDINGS_TEST_TEMPLATE_DB = template;
}
