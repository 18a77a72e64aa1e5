/**
 * The operator commands of `npm run tidings` (scripts/tidings/main.ts), on the database: bootstrap-dev,
 * create-tenant, create-key, rebuild (docs/event-log.md). Each prints one JSON object on stdout and returns
 * its exit code: 0 done, 1 failed (e.g. rebuild found differences), 64 usage error.
 */
import { API_KEY_SCOPES, createDataSource, TenantEntity, transaction, type ApiKeyScope } from '@tidings/db';
import type { DataSource } from 'typeorm';
import { parseArgs } from 'node:util';
import { issueApiKey } from './api-keys/api-keys.service';
import { rebuildCommand } from './resources/rebuild.service';
import { createTenantWithKey } from './tenants/tenants.service';

export { createTenantWithKey };

const EXIT_USAGE = 64;

/** Reuses the tenant named `dev` if it exists and always mints a fresh admin key for it. */
export async function bootstrapDevTenant(ds: DataSource): Promise<{ tenantId: string; apiKey: string }> {
  const existing = await ds.getRepository(TenantEntity).findOneBy({ name: 'dev' });
  if (!existing) {
    const created = await createTenantWithKey(ds, 'dev');
    return { tenantId: created.tenantId, apiKey: created.apiKey.key };
  }
  const key = await transaction(ds, (tx) => issueApiKey(tx, existing.id, 'dev key', ['admin']));
  return { tenantId: existing.id, apiKey: key.key };
}

type Outcome = { json: unknown } | { code: number };

async function createKey(ds: DataSource, args: string[]): Promise<Outcome> {
  const line = 'create-key <tenantId> [--name <name>] [--scopes read,write,admin]';
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { name: { type: 'string' }, scopes: { type: 'string' } },
      allowPositionals: true,
    });
  } catch (error) {
    return usage(`${line}  (${(error as Error).message})`);
  }
  const { values, positionals } = parsed;
  const [tenantId] = positionals;
  if (!tenantId || positionals.length > 1) return usage(line);
  const scopes = (values.scopes ?? 'admin').split(',').map((s) => s.trim());
  const unknown = scopes.find((s) => !API_KEY_SCOPES.includes(s as ApiKeyScope));
  if (unknown !== undefined) return usage(`unknown scope "${unknown}": use ${API_KEY_SCOPES.join(', ')}`);
  if (!(await ds.getRepository(TenantEntity).existsBy({ id: tenantId }))) {
    process.stderr.write(`no tenant ${tenantId}\n`);
    return { code: 1 };
  }
  const key = await transaction(ds, (tx) =>
    issueApiKey(tx, tenantId, values.name ?? 'cli key', [...new Set(scopes)] as ApiKeyScope[]),
  );
  return { json: { tenantId, apiKey: key.key, id: key.id, scopes: key.scopes } };
}

function usage(line: string): Outcome {
  process.stderr.write(`usage: ${line}\n`);
  return { code: EXIT_USAGE };
}

async function operate(ds: DataSource, command: string, args: string[]): Promise<Outcome> {
  switch (command) {
    case 'bootstrap-dev':
      return { json: await bootstrapDevTenant(ds) };
    case 'create-tenant': {
      if (args.length !== 1 || args[0].startsWith('-')) return usage('create-tenant <name>');
      const created = await createTenantWithKey(ds, args[0]);
      return { json: { tenantId: created.tenantId, apiKey: created.apiKey.key } };
    }
    case 'create-key':
      return createKey(ds, args);
    case 'rebuild':
      return { code: await rebuildCommand(ds, args) };
    default:
      return usage('bootstrap-dev | create-tenant <name> | create-key <tenantId> | rebuild [--apply]');
  }
}

export async function runOperatorCommand(
  databaseUrl: string,
  command: string,
  args: string[],
): Promise<number> {
  const ds = createDataSource(databaseUrl, 1);
  await ds.initialize();
  try {
    const outcome = await operate(ds, command, args);
    if ('code' in outcome) return outcome.code;
    process.stdout.write(`${JSON.stringify(outcome.json)}\n`);
    return 0;
  } finally {
    await ds.destroy();
  }
}
