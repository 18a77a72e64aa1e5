// Runs once per `npm test`: provisions Postgres and Kafka (scripts/infra/provision.ts: DATABASE_URL /
// KAFKA_BROKERS when set, else local processes), migrates a template database that every test file
// clones, and hands the addresses to the test workers through the environment.
import { join } from 'node:path';
import { Client } from 'pg';
import { register } from 'tsconfig-paths';
import { provisionInfra, type Infra } from '../../scripts/infra/provision';

// Jest's moduleNameMapper applies to test files only, not to global setup (it is required by Jest's
// own process): resolve @tidings/* the way the apps do, from tsconfig's paths.
register({ baseUrl: join(__dirname, '..', '..'), paths: { '@tidings/*': ['libs/*/src'] } });

export interface TestInfraHandle {
  infra: Infra;
  onSignal: (signal: NodeJS.Signals) => void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const infra = await provisionInfra({
    purpose: 'test',
    log: (line) => process.stderr.write(`[infra] ${line}\n`),
  });
  // The broker and the server run in their own process groups, so a Ctrl-C (or CI's SIGTERM) reaches
  // only Jest: stop them before Jest goes, or they would outlive the run.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`[infra] ${signal}: stopping Postgres and Kafka\n`);
    void infra
      .stop()
      .finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15)));
  };
  for (const s of SIGNALS) process.once(s, onSignal);
  (globalThis as { __tidingsInfra?: TestInfraHandle }).__tidingsInfra = { infra, onSignal };

  try {
    const admin = new URL(infra.databaseUrl);
    admin.pathname = '/postgres';
    // Unique per run, so several runs can share one server (e.g. a developer's DATABASE_URL). Nobody
    // connects to it after migration: CREATE DATABASE … TEMPLATE needs it idle.
    const template = `tidings_template_${Date.now().toString(36)}_${process.pid}`;
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    await client.query(`CREATE DATABASE ${template}`);
    await client.end();
    const templateUrl = new URL(admin.toString());
    templateUrl.pathname = `/${template}`;
    const db = (await import('@tidings/db')) as Partial<typeof import('@tidings/db')>;
    if (typeof db.runMigrations !== 'function') {
      throw new Error('@tidings/db does not export runMigrations(url): the template cannot be migrated');
    }
    await db.runMigrations(templateUrl.toString());

    process.env.TIDINGS_TEST_PG_ADMIN_URL = admin.toString();
    process.env.TIDINGS_TEST_TEMPLATE_DB = template;
    process.env.KAFKA_BROKERS = infra.kafkaBrokers.join(',');
  } catch (error) {
    // Jest skips the global teardown when setup throws: stop what was started here.
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    await infra.stop();
    throw error;
  }
  process.stderr.write(`[infra] ready in ${Date.now() - started} ms\n`);
}
