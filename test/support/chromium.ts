/**
 * The Chromium that browser tests drive through playwright-core, found without a download at run time:
 * the system one (Debian's `chromium` package) when present, else the headless Chromium that the
 * @sparticuz/chromium devDependency ships inside its npm package (brotli-compressed, x64 Linux), inflated
 * once into the temp directory. Every browser test launches through `launchChromium()`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const PACKAGE = '@sparticuz/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let resolved: Promise<string> | undefined;

/** Path of a runnable Chromium: the system one, else the packaged one (inflated on first use). */
export function chromiumExecutable(): Promise<string> {
  resolved ??= findChromium();
  return resolved;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(), args: FLAGS });
}

async function findChromium(): Promise<string> {
  const system = SYSTEM_CHROMIUM.find((path) => existsSync(path));
  if (system) return system;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `no Chromium found (${SYSTEM_CHROMIUM.join(', ')}) and ${PACKAGE} ships one for x64 Linux only: ` +
        'install Chromium (e.g. apt-get install -y chromium)',
    );
  }
  const entry = require.resolve(PACKAGE);
  // build/cjs/index.cjs → the package root (its exports map does not expose package.json).
  const manifest = join(dirname(entry), '..', '..', 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const dir = join(tmpdir(), `tidings-chromium-${version}`);
  const binary = join(dir, 'chromium');
  if (existsSync(join(dir, '.complete'))) return binary;
  // The package inflates into os.tmpdir(): point that at a private staging directory (in a child process,
  // so no environment of ours changes), then move it into place in one rename. Test files running in
  // parallel workers may race here; the loser drops its copy and uses the winner's.
  const staging = await mkdtemp(join(tmpdir(), 'tidings-chromium-staging-'));
  try {
    await promisify(execFile)(
      process.execPath,
      ['-e', `require(${JSON.stringify(entry)}).executablePath().then((p) => process.stdout.write(p))`],
      { env: { ...process.env, TMPDIR: staging } },
    );
    await writeFile(join(staging, '.complete'), '');
    await rename(staging, dir);
  } catch (error) {
    if (!existsSync(join(dir, '.complete'))) throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}
