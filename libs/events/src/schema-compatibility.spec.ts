import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listEventTypes } from './catalogue';

// Golden JSON Schemas per (type, version): published versions are a contract with subscribers. A change
// to an existing version's schema fails here; add a new version (with casters) instead.
const DIR = join(__dirname, '../../../test/fixtures/schemas');
const UPDATE = process.env.UPDATE_SCHEMA_SNAPSHOTS === '1';

describe('schema compatibility guard', () => {
  const cases = listEventTypes().flatMap((t) =>
    t.versions.map((v) => [`${t.type}.v${v.version}`, v.jsonSchema] as const),
  );

  it.each(cases)('%s matches its golden snapshot', (id, schema) => {
    const file = join(DIR, `${id}.json`);
    const current = `${JSON.stringify(schema, null, 2)}\n`;
    if (!existsSync(file)) {
      if (!UPDATE)
        throw new Error(
          `No golden schema for ${id}. New type or version? Run with UPDATE_SCHEMA_SNAPSHOTS=1 once and commit ${file}.`,
        );
      mkdirSync(DIR, { recursive: true });
      writeFileSync(file, current);
    }
    const golden = readFileSync(file, 'utf8');
    if (golden !== current) {
      throw new Error(
        `The schema of ${id} changed. Published versions must not change incompatibly: add version ${Number(id.split('.v').pop()) + 1} with up/down-casters instead.\n--- golden\n${golden}\n+++ current\n${current}`,
      );
    }
  });
});
