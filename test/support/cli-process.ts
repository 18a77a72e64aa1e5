import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TS_NODE_ARGS } from './app-process';

const ROOT = join(__dirname, '..', '..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<CliRun>;
  /** Sends `signal` (SIGINT, as Ctrl-C would, by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliRun>;
}

/**
 * `npm run tidings -- …` as a child process (what the script runs, without npm in between), with only the
 * variables given in `env` besides PATH/HOME: a test states everything the command sees.
 */
export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, 'scripts/tidings/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<CliRun>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop: (signal: NodeJS.Signals = 'SIGINT') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a command that ends by itself; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).exited;
}
