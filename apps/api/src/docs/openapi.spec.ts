import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { previewOpenApiDocument } from './openapi';

const ROOT = join(__dirname, '../../../..');

describe('docs/openapi.json', () => {
  it('is what `npm run openapi` generates from the code (regenerate it when this fails)', async () => {
    const generated: unknown = JSON.parse(JSON.stringify(await previewOpenApiDocument()));
    const committed: unknown = JSON.parse(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8'));
    expect(committed).toEqual(generated);
  });

  it('comes with its openapi-typescript client types in test/client/tidings-api.ts (`npm run openapi`)', () => {
    // The script itself, in a child process: openapi-typescript needs Node's require of ES modules, not Jest's.
    const dir = mkdtempSync(join(tmpdir(), 'tidings-openapi-'));
    try {
      const run = spawnSync(
        process.execPath,
        [
          '-r',
          'ts-node/register/transpile-only',
          '-r',
          'tsconfig-paths/register',
          'scripts/openapi.ts',
        ].concat([join(dir, 'openapi.json'), join(dir, 'tidings-api.ts')]),
        { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
      );
      expect(run.stderr).toBe('');
      expect(readFileSync(join(dir, 'tidings-api.ts'), 'utf8')).toEqual(
        readFileSync(join(ROOT, 'test/client/tidings-api.ts'), 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('passes `redocly lint` (recommended rules, redocly.yaml) without an error or a warning', () => {
    const lint = spawnSync(join(ROOT, 'node_modules/.bin/redocly'), ['lint', 'tidings', '--format=json'], {
      cwd: ROOT,
      encoding: 'utf8',
      // No telemetry and no update check: the suite talks to nothing outside this machine.
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: 120_000,
    });
    expect(lint.error).toBeUndefined();
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
    };
    const problems = report.problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(lint.status).toBe(0);
  });
});
