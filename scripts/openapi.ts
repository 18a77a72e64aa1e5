// Writes the API's OpenAPI 3.1 document to docs/openapi.json (`npm run openapi [-- <path>]`). The app graph
// is built in preview mode: no provider is instantiated, so neither Postgres nor Kafka is needed, and the
// document is exactly what /docs-json serves.
import { NestFactory } from '@nestjs/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';

import { ApiModule } from '../apps/api/src/api.module';

import { buildOpenApiDocument } from '../apps/api/src/docs/openapi';

async function main(): Promise<void> {
  const out = resolve(__dirname, '..', process.argv[2] ?? 'docs/openapi.json');
  // Config is parsed at module creation; placeholders satisfy it, nothing connects in preview mode.
  const env = {
    DATABASE_URL: 'postgres://preview@localhost:5432/preview',
    KAFKA_BROKERS: 'localhost:9092',
    ...process.env,
  };
  const app = await NestFactory.create(ApiModule.forRoot(env), { preview: true, logger: false });
  const document = buildOpenApiDocument(app);
  mkdirSync(dirname(out), { recursive: true });
  // Formatted like the rest of the repository, so `prettier --check .` stays clean after a regeneration.
  const options = (await resolveConfig(out)) ?? {};
  writeFileSync(out, await format(JSON.stringify(document), { ...options, filepath: out }));
  await app.close();
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
