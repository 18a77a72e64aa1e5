/**
 * `tidings receive`: a local webhook endpoint for trying Tidings out. Every request is verified with the
 * subscription's secret by libs/signing's `webhookReceiver` (the same check a real receiver makes): 204 and
 * a line when it holds, the middleware's 400 problem (and a REJECTED line) when it does not.
 */
import { createServer } from 'node:http';
import { webhookReceiver, type WebhookRequest } from '@tidings/signing';
import { CliError, EXIT, parse, type CliEnv } from './main';

export async function receive(args: string[], env: CliEnv): Promise<number> {
  const { values } = parse(args, {
    port: { type: 'string', default: '4000' },
    host: { type: 'string', default: '127.0.0.1' },
    path: { type: 'string', default: '/webhooks' },
    secret: { type: 'string' },
  });
  const secret = values.secret ?? env.webhookSecret;
  if (!secret) {
    throw new CliError(
      'a secret is required to verify: set TIDINGS_WEBHOOK_SECRET (the whsec_… of your subscription) or pass --secret',
      EXIT.config,
    );
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port: ${values.port}`, EXIT.usage);
  const verify = webhookReceiver({ secrets: [secret] });
  const at = () => new Date().toISOString().slice(11, 19);
  const server = createServer((req: WebhookRequest, res) => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== values.path) {
      res.writeHead(404).end();
      return;
    }
    res.on('finish', () => {
      if (!req.webhook) {
        process.stdout.write(
          `${at()}  REJECTED ${res.statusCode} ${String(req.headers['webhook-id'] ?? '-')}\n`,
        );
      }
    });
    verify(req, res, (error?: unknown) => {
      if (error) {
        res.writeHead(500).end();
        return;
      }
      const { id, payload } = req.webhook!;
      const event = payload as { eventType?: string; resourceId?: string; position?: number };
      process.stdout.write(
        `${at()}  verified ${String(event.eventType)} ${id} ${String(event.resourceId)} position ${String(event.position)}\n`,
      );
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, values.host, resolve);
  });
  process.stdout.write(`Receiving webhooks on http://${values.host}:${port}${values.path}\n`);
  return new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => server.close(() => resolve(EXIT.ok)));
    }
  });
}
