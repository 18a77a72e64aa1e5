// `npm run asyncapi`: writes the AsyncAPI 3.0 document and the event catalogue page from libs/events.
// Both are checked in; libs/events/src/asyncapi.spec.ts fails when they no longer match the catalogue.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { buildAsyncApiDocument, renderEventCatalogueMarkdown } from '@tidings/events';

async function main(): Promise<void> {
  const root = join(__dirname, '..');
  writeFileSync(join(root, 'docs/asyncapi.json'), `${JSON.stringify(buildAsyncApiDocument(), null, 2)}\n`);
  const markdownPath = join(root, 'docs/events.md');
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(
    markdownPath,
    await format(renderEventCatalogueMarkdown(), { ...options, filepath: markdownPath }),
  );
  process.stdout.write('wrote docs/asyncapi.json and docs/events.md\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
