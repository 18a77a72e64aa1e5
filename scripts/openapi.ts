// Writes the API's OpenAPI 3.1 document to docs/openapi.json (exactly what /docs-json serves) and its
// openapi-typescript client types to test/client/tidings-api.ts (`npm run openapi [-- <json path> <types path>]`).
// apps/api/src/docs/openapi.spec.ts fails when the checked-in files differ.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';

import { previewOpenApiDocument } from '../apps/api/src/docs/openapi';
import { CLIENT_TYPES_PATH, renderClientTypes } from './openapi-client';

async function main(): Promise<void> {
  const out = resolve(__dirname, '..', process.argv[2] ?? 'docs/openapi.json');
  const document = await previewOpenApiDocument();
  mkdirSync(dirname(out), { recursive: true });
  // Formatted like the rest of the repository, so `prettier --check .` stays clean after a regeneration.
  const options = (await resolveConfig(out)) ?? {};
  writeFileSync(out, await format(JSON.stringify(document), { ...options, filepath: out }));
  process.stdout.write(`wrote ${out}\n`);
  const types = resolve(__dirname, '..', process.argv[3] ?? CLIENT_TYPES_PATH);
  writeFileSync(types, await renderClientTypes(document));
  process.stdout.write(`wrote ${types}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
