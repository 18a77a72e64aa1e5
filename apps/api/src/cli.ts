/**
 * Operator commands for the api app:
 *   ts-node -r tsconfig-paths/register apps/api/src/cli.ts bootstrap-dev   → a dev tenant + admin key (JSON)
 *   ts-node -r tsconfig-paths/register apps/api/src/cli.ts create-tenant <name>
 *   ts-node -r tsconfig-paths/register apps/api/src/cli.ts rebuild [--apply]
 *       → replays the event log into fresh orders/messages projections and compares them with the live
 *         tables (exit 1 on any difference); --apply replaces the live tables (docs/event-log.md)
 * Both need DATABASE_URL.
 */
import { createDataSource, TenantEntity } from '@tidings/db';
import { transaction } from '@tidings/db';
import type { DataSource } from 'typeorm';
import { issueApiKey } from './api-keys/api-keys.service';
import { rebuildCommand } from './events/rebuild.service';
import { createTenantWithKey } from './tenants/tenants.service';

export { createTenantWithKey };

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

async function run(argv: string[]): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const ds = createDataSource(url, 1);
  await ds.initialize();
  try {
    const [command, ...args] = argv;
    if (command === 'bootstrap-dev') {
      process.stdout.write(`${JSON.stringify(await bootstrapDevTenant(ds))}\n`);
    } else if (command === 'create-tenant' && args[0]) {
      const created = await createTenantWithKey(ds, args[0]);
      process.stdout.write(`${JSON.stringify({ tenantId: created.tenantId, apiKey: created.apiKey.key })}\n`);
    } else if (command === 'rebuild') {
      process.exitCode = await rebuildCommand(ds, args);
    } else {
      throw new Error('usage: cli.ts bootstrap-dev | create-tenant <name> | rebuild [--apply]');
    }
  } finally {
    await ds.destroy();
  }
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
