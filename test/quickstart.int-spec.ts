import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { eventually } from './support/eventually';
import { createTestDatabase, kafkaBrokers, testTopicPrefix } from './support/infra';

const ROOT = join(__dirname, '..');
// The ports the quickstart names: the dev stack's defaults and the receiver's.
const PORTS = [3000, 3001, 3002, 3003, 4000];

/** The README's quickstart: its ```bash blocks, in order, verbatim. */
function quickstartBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Quickstart');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface Terminal {
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown>;
  /** Signals everything started in this terminal (its process group), as Ctrl-C or closing it would. */
  signal(signal: NodeJS.Signals): void;
}

/** A terminal: bash running `script` in its own process group, its output recorded. */
function terminal(script: string, env: NodeJS.ProcessEnv): Terminal {
  const child = spawn('bash', ['-c', script], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // the group is gone already
    }
  };
  return { child, output: () => output, exited, signal };
}

/**
 * Runs the README quickstart word for word against `npm run dev` (on this run's Postgres database and Kafka
 * topic prefix, which the dev stack and kcat take from the environment, as the README says), the way a reader
 * would: the first block in its own terminal, the rest one after the other in a second one.
 */
describe('README quickstart', () => {
  let dev: Terminal | undefined;
  let second: Terminal | undefined;
  let drop: (() => Promise<void>) | undefined;

  afterAll(async () => {
    second?.signal('SIGTERM'); // the background receiver
    if (dev && dev.child.exitCode === null) {
      dev.signal('SIGINT'); // Ctrl-C: npm run dev stops its apps, then itself
      await dev.exited;
    }
    await drop?.();
  }, 60_000);

  it('gets a verified webhook, the stream and the Kafka record of a first order', async () => {
    const blocks = quickstartBlocks();
    expect(blocks[0].trim()).toBe('npm run dev');
    const missing = ['curl', 'jq', 'kcat'].filter(
      (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
    );
    if (missing.length > 0) {
      throw new Error(
        `the quickstart uses ${missing.join(', ')}: install them (Debian: apt-get install ${missing.join(' ')})`,
      );
    }
    const busy = [];
    for (const port of PORTS) if (!(await portFree(port))) busy.push(port);
    if (busy.length > 0) throw new Error(`the quickstart needs ports ${busy.join(', ')}, which are in use`);

    const db = await createTestDatabase();
    drop = db.drop;
    const { NODE_ENV: _jest, ...inherited } = process.env;
    const env = {
      ...inherited,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_TOPIC_PREFIX: testTopicPrefix(),
    };
    dev = terminal(blocks[0], env);
    await eventually(() => expect(dev!.output()).toMatch(/Ctrl-C stops everything/), { timeoutMs: 240_000 });

    // The second terminal. Between blocks, the harness waits as a reader would: for a background
    // receiver to listen before the next command. afterAll stops the receiver.
    const waitForBackground = `until (exec 3<>/dev/tcp/127.0.0.1/4000) 2>/dev/null; do sleep 0.2; done`;
    const script = blocks
      .slice(1)
      .map((b) => (/&\s*$/.test(b.trim()) ? `${b}\n${waitForBackground}\n` : b))
      .join('\n');
    const shell = terminal(script, env);
    second = shell;
    await shell.exited;
    await eventually(() => expect(shell.output()).toMatch(/verified order\.created/), { timeoutMs: 60_000 });
    const out = shell.output();

    try {
      const order = /"id":"(ord_[^"]+)"/.exec(out)?.[1];
      expect(order).toBeDefined();
      expect(out).toMatch(new RegExp(`verified order\\.created \\S+ ${order} position \\d+`));
      expect(out).toMatch(/event: order\.created\ndata: \{/);
      expect(out).toContain(`"resourceId":"${order}"`);
      expect(out).toMatch(new RegExp(`key=${order} .*ce_type=order\\.created`));
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- the second terminal ---\n${out.slice(-6000)}`);
    }
  }, 360_000);
});
