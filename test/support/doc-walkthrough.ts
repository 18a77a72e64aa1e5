import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** One fenced block of a walkthrough, in page order. */
export type Step =
  | { kind: 'file'; path: string; content: string }
  | { kind: 'patch'; diff: string }
  | { kind: 'command'; script: string };

/**
 * The blocks of a walkthrough page: a `ts` block is a whole file, named by its first line (`// <path>`, not
 * part of the file); a `diff` block is a patch; a `sh` block is commands run in the repository's root. Any
 * other block, or a `ts` block without its path, is an error: nothing on the page escapes being run.
 */
export function walkthroughSteps(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    const body = lines.slice(i + 1, end);
    const at = `line ${i + 1}`;
    if (fence[1] === 'ts') {
      const path = /^\/\/ (\S+\.ts)$/.exec(body[0] ?? '')?.[1];
      if (!path) throw new Error(`${at}: a ts block starts with // <path of the file>`);
      steps.push({ kind: 'file', path, content: `${body.slice(1).join('\n')}\n` });
    } else if (fence[1] === 'diff') {
      steps.push({ kind: 'patch', diff: `${body.join('\n')}\n` });
    } else if (fence[1] === 'sh') {
      steps.push({ kind: 'command', script: body.join('\n') });
    } else {
      throw new Error(`${at}: a \`\`\`${fence[1]} block is not run (use ts, diff or sh)`);
    }
    i = end;
  }
  return steps;
}

function run(dir: string, command: string, args: string[], env: Record<string, string> = {}, input?: string) {
  const r = spawnSync(command, args, {
    cwd: dir,
    // TS_NODE_PROJECT picks the tsconfig whose paths resolve @tidings/*: the copy's own, not this repository's.
    env: { ...process.env, TS_NODE_PROJECT: join(dir, 'tsconfig.json'), ...env },
    input,
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${r.status ?? r.signal}) in ${dir}:\n${output}`);
  return output;
}

const untracked = (dir: string) =>
  run(dir, 'git', ['ls-files', '--others', '--exclude-standard']).split('\n').filter(Boolean);

// A generated file's name and class carry the time it was generated (a migration's 13-digit timestamp).
const timeless = (text: string) => text.replace(/\d{13}/g, '<timestamp>');

export interface Walkthrough {
  /** The copy of the repository, with the page applied. */
  dir: string;
  /** What each step did, in order (`wrote <path>`, `patched <paths>`, `ran <first command>`). */
  log: string[];
  remove(): void;
}

/**
 * Applies a walkthrough page to a copy of this repository (its files as they are in the working tree, with this
 * repository's node_modules), step by step, and throws at the first step that fails, with its output. A file
 * that the previous command generated under another timestamp (a migration) must be the one the page shows:
 * it is compared, then replaced by the page's. `env` is given to the commands.
 */
export function applyWalkthrough(markdown: string, env: Record<string, string>): Walkthrough {
  const steps = walkthroughSteps(markdown);
  const dir = mkdtempSync(join(tmpdir(), 'tidings-walkthrough-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const files = run(ROOT, 'git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'])
      .split('\0')
      .filter((f) => f && existsSync(join(ROOT, f)));
    for (const f of files) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    // A repository of its own, so patches apply as `git apply` does and generated files can be told apart.
    run(dir, 'git', ['init', '-q']);
    run(dir, 'git', ['add', '-A']);
    run(dir, 'git', ['-c', 'user.name=walkthrough', '-c', 'user.email=w@localhost', 'commit', '-qm', 'base']);
    const log: string[] = [];
    let generated: string[] = [];
    for (const step of steps) {
      if (step.kind === 'file') {
        const twin = generated.find((g) => g !== step.path && timeless(g) === timeless(step.path));
        if (twin) {
          const made = readFileSync(join(dir, twin), 'utf8');
          if (timeless(made) !== timeless(step.content))
            throw new Error(`${step.path} on the page is not what the command generated:\n${made}`);
          rmSync(join(dir, twin));
        }
        mkdirSync(dirname(join(dir, step.path)), { recursive: true });
        writeFileSync(join(dir, step.path), step.content);
        log.push(`wrote ${step.path}`);
        generated = [];
      } else if (step.kind === 'patch') {
        run(dir, 'git', ['apply', '-'], {}, step.diff);
        const paths = [...step.diff.matchAll(/^\+\+\+ b\/(\S+)$/gm)].map((m) => m[1]);
        log.push(`patched ${paths.join(' ')}`);
        generated = [];
      } else {
        const before = new Set(untracked(dir));
        run(dir, 'bash', ['-euo', 'pipefail', '-c', step.script], env);
        generated = untracked(dir).filter((f) => !before.has(f));
        log.push(`ran ${step.script.split('\n')[0]}`);
      }
    }
    return { dir, log, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
