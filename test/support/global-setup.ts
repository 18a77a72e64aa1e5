// Runs once per `npm test`: provisions Postgres and Kafka (scripts/infra/provision.ts: DATABASE_URL /
// KAFKA_BROKERS when set, else local processes), migrates a template database that every test file
// clones, and hands the addresses to the test workers through the environment.
import { join } from 'node:path';
import { Client } from 'pg';
import { register } from 'tsconfig-paths';
import { provisionInfra } from '../../scripts/infra/provision';

// Jest's moduleNameMapper does not apply to global setup; resolve @tidings/* the way the apps do.
register({ baseUrl: join(__dirname, '..', '..'), paths: { '@tidings/*': ['libs/*/src'] } });

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const infra = await provisionInfra({
    purpose: 'test',
    log: (line) => process.stderr.write(`[infra] ${line}\n`),
  });
  (globalThis as { __tidingsInfra?: unknown }).__tidingsInfra = infra;

  const admin = new URL(infra.databaseUrl);
  admin.pathname = '/postgres';
  // Unique per run, so several runs can share one server (e.g. developers' shared DATABASE_URL).
  const template = `tidings_template_${Date.now().toString(36)}_${process.pid}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${template}`);
  await client.end();
  const templateUrl = new URL(admin.toString());
  templateUrl.pathname = `/${template}`;
  const { runMigrations } = (await import('@tidings/db')) as typeof import('../../libs/db/src');
  await runMigrations(templateUrl.toString());

  process.env.TIDINGS_TEST_PG_ADMIN_URL = admin.toString();
  process.env.TIDINGS_TEST_TEMPLATE_DB = template;
  process.env.KAFKA_BROKERS = infra.kafkaBrokers.join(',');
  process.stderr.write(`[infra] ready in ${Date.now() - started} ms\n`);
}
