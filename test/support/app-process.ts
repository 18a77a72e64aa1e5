import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './eventually';

export interface AppProcess {
  url: string;
  pid: number;
  output: () => string;
  /** Resolves with the exit code/signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const ROOT = join(__dirname, '..', '..');
/** Node options that run a TypeScript entry point the way `npm run dev` does (no type check). */
export const TS_NODE_ARGS = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'];

/**
 * Starts an app as a real child process (so tests can SIGKILL it), with its env, and waits until its
 * /health/live answers (unless `waitForLive` is false: a process expected to crash early, e.g. by fault
 * injection, may never answer). `app` is the folder under apps/ of `root` (this repository unless given).
 */
export async function startAppProcess(
  app: string,
  env: Record<string, string>,
  port: number,
  { waitForLive = true, root = ROOT }: { waitForLive?: boolean; root?: string } = {},
): Promise<AppProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...TS_NODE_ARGS, join('apps', app, 'src', 'main.ts')],
    {
      cwd: root,
      env: { ...process.env, ...env, TS_NODE_PROJECT: join(root, 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  const handle: AppProcess = {
    url,
    pid: child.pid!,
    output: () => out,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (!dead) child.kill(signal);
      await exited;
    },
  };
  if (!waitForLive) return handle;
  // Fail at once (not at the polling timeout) when the process dies before it answers.
  const diedEarly = exited.then(() => {
    throw new Error(`${app} exited during startup:\n${out.slice(-3000)}`);
  });
  const live = eventually(
    async () => {
      if (dead) return;
      const res = await fetch(`${url}/health/live`);
      if (!res.ok) throw new Error(`health ${res.status}`);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  await Promise.race([live, diedEarly]).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  diedEarly.catch(() => undefined);
  return handle;
}
