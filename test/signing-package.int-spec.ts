import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../scripts/infra/ports';
import type { TestApi } from './support/api-app';
import { createOrder } from './support/factories/resources';
import { eventually } from './support/eventually';
import { startPipeline, type Pipeline } from './support/pipeline';
import { createTenant } from './support/tenant';

const run = promisify(execFile);
const SIGNING = join(__dirname, '..', 'libs', 'signing');

// What a subscriber's own project writes after `npm install @tidings/signing`: plain Node, no monorepo.
const RECEIVER = `
const { createServer } = require('node:http');
const { webhookReceiver } = require('@tidings/signing');
const verify = webhookReceiver({ secrets: [process.env.SECRET] });
createServer((req, res) => {
  res.on('finish', () => process.stdout.write(JSON.stringify({ status: res.statusCode, webhook: req.webhook ? { id: req.webhook.id, payload: req.webhook.payload } : null }) + '\\n'));
  verify(req, res, () => res.writeHead(204).end());
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

/**
 * libs/signing as the npm package subscribers install: `npm pack`, installed into a temp project with no
 * registry access, verifying a real delivery from the dispatcher (api + relay + dispatcher in-process).
 */
describe('the @tidings/signing package', () => {
  let project: string;
  let receiver: ChildProcess | undefined;
  let api: TestApi;
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'tidings-receiver-'));
    pipeline = await startPipeline();
    api = await pipeline.startApi();
    await pipeline.startRelay();
    await pipeline.startDispatcher();
  }, 180_000);

  afterAll(async () => {
    receiver?.kill('SIGKILL');
    await pipeline?.teardown();
    await rm(project, { recursive: true, force: true });
  });

  it('packs to JS + type declarations, installs offline and verifies a real delivery', async () => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: SIGNING });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'package.json']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-receiver', private: true }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(project, packed.filename)], {
      cwd: project,
    });
    expect(existsSync(join(project, 'node_modules/@tidings/signing/dist/index.d.ts'))).toBe(true);
    // The installed declarations type a delivery's body: a TypeScript receiver compiles against them alone.
    await writeFile(
      join(project, 'typed.ts'),
      `import { verifyPayload, type WebhookEvent } from '@tidings/signing';
export function handle(body: string, headers: Record<string, string>, secret: string): string {
  verifyPayload({ body, headers, secrets: [secret] });
  const event = JSON.parse(body) as WebhookEvent<{ orderId: string }>;
  const position: number | null = event.position;
  return \`\${event.eventType} v\${event.version} \${event.resourceId}#\${event.sequence} at \${position}: \${event.data.orderId}\`;
}
`,
    );
    await run(
      process.execPath,
      [
        require.resolve('typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        join(__dirname, '..', 'node_modules', '@types'),
        'typed.ts',
      ],
      { cwd: project },
    );
    await writeFile(join(project, 'receiver.js'), RECEIVER);

    const tenant = await createTenant(pipeline!.ds);
    const port = await freePort();
    const created = await api.call('POST', '/webhooks', tenant.apiKey, {
      url: `http://127.0.0.1:${port}/hook`,
      eventTypes: ['order.*'],
    });
    expect(created.status).toBe(201);
    const secret = String(created.body.secret);

    receiver = spawn(process.execPath, ['receiver.js'], {
      cwd: project, // resolves @tidings/signing from the temp project only
      env: { PATH: process.env.PATH ?? '', SECRET: secret, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    receiver.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await eventually(() => expect(out).toMatch(/^listening$/m));
    const lines = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map(
          (l) =>
            JSON.parse(l) as { status: number; webhook: { id: string; payload: Record<string, unknown> } },
        );

    // A forged request first: the installed middleware refuses it.
    const forged = await fetch(`http://127.0.0.1:${port}/hook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      },
      body: '{}',
    });
    expect(forged.status).toBe(400);

    const order = await createOrder(api, tenant.apiKey, { customerId: 'cus_pkg' });
    const delivered = await eventually(
      () => {
        const ok = lines().filter((l) => l.status === 204);
        expect(ok).toHaveLength(1);
        return ok[0];
      },
      { timeoutMs: 30_000 },
    );
    expect(delivered.webhook.payload).toMatchObject({
      eventType: 'order.created',
      resourceId: order.id,
    });
    expect(lines().map((l) => l.status)).toEqual([400, 204]);
    const deliveries = await api.call(
      'GET',
      `/webhooks/${String(created.body.id)}/deliveries`,
      tenant.apiKey,
    );
    expect(JSON.stringify(deliveries.body)).toContain(delivered.webhook.id);
  }, 180_000);
});
