import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listEventTypes } from './catalogue';

// Golden JSON Schemas per (type, version): published versions are a contract with subscribers. A change
// to an existing version's schema fails here; add a new version (with casters) instead. New types and
// versions get their golden file only when UPDATE_SCHEMA_SNAPSHOTS=1 is set, so adding one is deliberate.
const DIR = join(__dirname, '../../../test/fixtures/schemas');
const UPDATE = process.env.UPDATE_SCHEMA_SNAPSHOTS === '1';

function setup() {
  const cases = listEventTypes().flatMap((t) =>
    t.versions.map((v) => ({ id: `${t.type}.v${v.version}`, version: v.version, schema: v.jsonSchema })),
  );
  return { cases };
}

describe('schema compatibility guard', () => {
  it.each(setup().cases.map((c) => [c.id, c] as const))(
    '%s matches its golden snapshot',
    (id, { version, schema }) => {
      const file = join(DIR, `${id}.json`);
      const current = `${JSON.stringify(schema, null, 2)}\n`;
      if (!existsSync(file)) {
        if (!UPDATE) {
          throw new Error(
            `No golden schema for ${id}. New type or version? Run UPDATE_SCHEMA_SNAPSHOTS=1 npx jest schema-compatibility once and commit ${file}.`,
          );
        }
        mkdirSync(DIR, { recursive: true });
        writeFileSync(file, current);
      }
      const golden = readFileSync(file, 'utf8');
      if (golden !== current) {
        throw new Error(
          `The JSON Schema of ${id} changed. A published version is a contract with subscribers: do not ` +
            `change it (UPDATE_SCHEMA_SNAPSHOTS does not overwrite existing snapshots). Add version ` +
            `${version + 1} with up/down-casters instead.\n--- golden ${file}\n${golden}\n+++ current\n${current}`,
        );
      }
    },
  );

  it('keeps every golden snapshot backed by a supported type and version (none removed)', () => {
    const { cases } = setup();
    const known = new Set(cases.map((c) => `${c.id}.json`));
    const orphans = readdirSync(DIR).filter((f) => f.endsWith('.json') && !known.has(f));
    expect({
      orphans,
      hint: 'a published type or version was removed or renamed; subscribers pinned to it would break',
    }).toEqual({ orphans: [], hint: expect.any(String) });
  });
});
