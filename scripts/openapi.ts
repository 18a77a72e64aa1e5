// Writes the API's OpenAPI 3.1 document to docs/openapi.json (`npm run openapi [-- <path>]`): exactly what
// /docs-json serves. apps/api/src/docs/openapi.spec.ts fails when the checked-in file differs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';

import { previewOpenApiDocument } from '../apps/api/src/docs/openapi';

async function main(): Promise<void> {
  const out = resolve(__dirname, '..', process.argv[2] ?? 'docs/openapi.json');
  const document = await previewOpenApiDocument();
  mkdirSync(dirname(out), { recursive: true });
  // Formatted like the rest of the repository, so `prettier --check .` stays clean after a regeneration.
  const options = (await resolveConfig(out)) ?? {};
  writeFileSync(out, await format(JSON.stringify(document), { ...options, filepath: out }));
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
