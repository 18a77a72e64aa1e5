// `npm run console`: rebuilds the web console's bundle (apps/api/console/public/assets), which is checked in;
// apps/api/console/console-bundle.spec.ts fails when it no longer matches the source.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASSETS_DIR, bundleConsole } from '../apps/api/console/bundle';

async function main(): Promise<void> {
  mkdirSync(ASSETS_DIR, { recursive: true });
  for (const [name, bytes] of await bundleConsole()) {
    writeFileSync(join(ASSETS_DIR, name), bytes);
    process.stdout.write(`wrote ${name} (${bytes.length} bytes)\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
