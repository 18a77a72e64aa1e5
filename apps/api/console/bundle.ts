import { build } from 'esbuild';
import { join } from 'node:path';

const CONSOLE_DIR = __dirname;
/** Where the built files live: checked in, served by the api (apps/api/src/console). */
export const ASSETS_DIR = join(CONSOLE_DIR, 'public', 'assets');

/**
 * Bundles the console (src/main.tsx and the CSS it imports: Preact + Pico.css) into console.js and
 * console.css, in memory. `npm run console` writes them; console-bundle.spec.ts fails when the checked-in
 * files differ from what this builds.
 */
export async function bundleConsole(): Promise<Map<string, Uint8Array>> {
  const result = await build({
    absWorkingDir: CONSOLE_DIR,
    entryPoints: { console: 'src/main.tsx' },
    outdir: ASSETS_DIR,
    bundle: true,
    minify: true,
    write: false,
    format: 'iife',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(CONSOLE_DIR, 'tsconfig.json'),
    legalComments: 'eof',
    logLevel: 'silent',
  });
  return new Map(result.outputFiles.map((f) => [f.path.slice(ASSETS_DIR.length + 1), f.contents]));
}
