import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { accessLog, createAccessLog, createLogger } from './logging';
import type { RuntimeConfig } from './runtime.config';

/** The access log of a real HTTP server, each line parsed: what an operator's log pipeline receives. */
async function setup() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger('test', { LOG_LEVEL: 'debug' } as RuntimeConfig, sink);
  const log = createAccessLog(logger);
  const server: Server = createServer((req, res) => {
    const route = req.url!.split('?')[0];
    accessLog(log, req, res, route);
    if (route === '/health/ready') res.statusCode = 503;
    else if (route === '/broken') res.statusCode = 500;
    else if (route === '/failed') {
      // How a handler hands pino-http the error behind its 5xx.
      Object.assign(res, { err: new Error('the handler failed') });
      res.statusCode = 500;
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = (path: string) =>
    fetch(`${url}${path}`).then(
      (r) => r.text(),
      () => undefined,
    );
  const lineFor = async (route: string) => {
    for (let i = 0; i < 100 && !lines.some((l) => l.route === route); i++)
      await new Promise((r) => setTimeout(r, 10));
    return lines.find((l) => l.route === route)!;
  };
  return { get, lineFor, close: () => new Promise((r) => server.close(r)) };
}

describe('access log', () => {
  it('logs a probe answering 503 as a warning, with no made-up error stack', async () => {
    const { get, lineFor, close } = await setup();
    await get('/health/ready');
    const line = await lineFor('/health/ready');
    await close();
    expect(line).toMatchObject({ level: 'warn', status: 503, route: '/health/ready' });
    expect(line).not.toHaveProperty('err');
  });

  it('logs another 5xx as an error, still without a stand-in stack', async () => {
    const { get, lineFor, close } = await setup();
    await get('/broken');
    const line = await lineFor('/broken');
    await close();
    expect(line).toMatchObject({ level: 'error', status: 500 });
    expect(line).not.toHaveProperty('err');
  });

  it('keeps a real error: the one behind the response', async () => {
    const { get, lineFor, close } = await setup();
    await get('/failed');
    const line = await lineFor('/failed');
    await close();
    expect(line).toMatchObject({ level: 'error', status: 500, err: { message: 'the handler failed' } });
  });
});
