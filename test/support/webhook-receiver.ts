import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** How the receiver answers one request on a path. Default: 200 `ok`. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many ms (a slow but working endpoint). */
  delayMs?: number;
  /** Never answer (the dispatcher's timeout must fire). */
  hang?: boolean;
  /** Keep the request open until `release(path)` answers it 200 (to see how many a sender keeps open). */
  hold?: boolean;
  /** Stream this many bytes of body (a huge response the dispatcher must truncate). */
  hugeBodyBytes?: number;
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body exactly as received: what the signature covers. */
  body: string;
  /** The parsed, verified payload (null when verification failed). */
  payload: Record<string, unknown> | null;
  verified: boolean;
  verifyError?: string;
  receivedAt: number;
  /** The client's end of the connection it came on (`port`): requests on one kept-alive socket share it. */
  connection: number;
  /** The reply this request got. */
  reply: Reply;
}

/**
 * A local webhook endpoint for tests: an HTTP server on 127.0.0.1:<random port> that verifies every request
 * with the `standardwebhooks` package (the secrets registered for its path), records every request (`all`),
 * dedupes by webhook-id (`delivered`), and fails on demand per path: a queue of replies, then a default reply.
 * A request that fails verification gets 401 and is recorded with `verified: false`.
 */
export class WebhookReceiver {
  private readonly requests: ReceivedRequest[] = [];
  private readonly secrets = new Map<string, string[]>();
  private readonly queued = new Map<string, Reply[]>();
  private readonly defaults = new Map<string, Reply>();
  private readonly scripts = new Map<string, (n: number) => Reply>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly held = new Map<string, ServerResponse[]>();
  private readonly open = new Map<string, { now: number; max: number }>();
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      this.handle(
        req.url ?? '/',
        req.headers,
        Buffer.concat(chunks).toString('utf8'),
        res,
        req.socket.remotePort ?? 0,
      ),
    );
  });

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The endpoint URL for `path`, on 127.0.0.1 (or another host name, e.g. `localhost`). */
  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Requests on `path` are verified with any of these secrets (`whsec_…`). */
  expectSecrets(path: string, ...secrets: string[]): void {
    this.secrets.set(path, secrets);
  }

  /** The next requests on `path` get these replies, in order; afterwards the default. */
  queue(path: string, ...replies: Reply[]): void {
    this.queued.set(path, [...(this.queued.get(path) ?? []), ...replies]);
  }

  /** Every request on `path` (after the queue) gets this reply. */
  always(path: string, reply: Reply): void {
    this.defaults.set(path, reply);
  }

  /**
   * Requests on `path` (after the queue) get `script(n)`, n = 0, 1, 2… in the order they arrive — which, for
   * immediate replies, is the order the endpoint answers (e.g. alternate failures and successes).
   */
  script(path: string, script: (n: number) => Reply): void {
    this.scripts.set(path, script);
  }

  /**
   * An endpoint restart: stops listening (open connections dropped: requests are refused), then listens again
   * on the same port after `downMs`. Resolves once it is back.
   */
  async restart(downMs: number): Promise<void> {
    const port = this.port;
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  /** Every request received on `path` (all attempts, duplicates included), in arrival order. */
  all(path?: string): ReceivedRequest[] {
    return this.requests.filter((r) => path === undefined || r.path === path);
  }

  /** Verified, 2xx-answered requests on `path`, one per webhook-id (first arrival wins). */
  delivered(path: string): ReceivedRequest[] {
    const seen = new Set<string>();
    return this.all(path).filter((r) => {
      const id = String(r.headers['webhook-id']);
      const ok = r.verified && (r.reply.status ?? 200) < 300 && !r.reply.hang;
      if (!ok || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  /** Answers 200 every request held on `path` (replies with `hold`); returns how many. */
  release(path: string): number {
    const held = this.held.get(path) ?? [];
    this.held.delete(path);
    for (const res of held) this.respond({}, res);
    return held.length;
  }

  /** Requests on `path` open right now (not yet answered or abandoned). */
  openNow(path: string): number {
    return this.open.get(path)?.now ?? 0;
  }

  /**
   * The most requests on `path` that were open (not yet answered or abandoned) at the same time, since the start
   * or the last `resetMaxConcurrent(path)`.
   */
  maxConcurrent(path: string): number {
    return this.open.get(path)?.max ?? 0;
  }

  /** Starts a new measure of `maxConcurrent(path)` from the requests open now. */
  resetMaxConcurrent(path: string): void {
    const open = this.open.get(path);
    if (open) open.max = open.now;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    for (const res of [...this.held.values()].flat()) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(
    url: string,
    headers: IncomingHttpHeaders,
    body: string,
    res: ServerResponse,
    connection: number,
  ): void {
    const path = url.split('?')[0];
    const open = this.open.get(path) ?? { now: 0, max: 0 };
    this.open.set(path, open);
    open.now += 1;
    open.max = Math.max(open.max, open.now);
    res.on('close', () => (open.now -= 1));
    const queue = this.queued.get(path);
    const script = this.scripts.get(path);
    let reply =
      queue?.shift() ??
      (script ? script(this.requests.filter((r) => r.path === path).length) : undefined) ??
      this.defaults.get(path) ??
      {};
    let payload: Record<string, unknown> | null = null;
    let verifyError: string | undefined;
    for (const secret of this.secrets.get(path) ?? []) {
      try {
        payload = new Webhook(secret).verify(body, headers as Record<string, string>) as Record<
          string,
          unknown
        >;
        verifyError = undefined;
        break;
      } catch (error) {
        verifyError = error instanceof Error ? error.message : String(error);
      }
    }
    if (!this.secrets.has(path)) verifyError = `no secret registered for ${path}`;
    if (!payload) reply = { status: 401, body: verifyError };
    this.requests.push({
      path,
      headers,
      body,
      payload,
      verified: payload !== null,
      verifyError,
      receivedAt: Date.now(),
      connection,
      reply,
    });
    if (reply.hold) {
      this.held.set(path, [...(this.held.get(path) ?? []), res]);
      return;
    }
    if (reply.hang) {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (reply.delayMs) {
      const answer = { ...reply, delayMs: 0 };
      const timer = setTimeout(() => this.respond(answer, res), reply.delayMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    this.respond(reply, res);
  }

  private respond(reply: Reply, res: ServerResponse): void {
    res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers });
    if (reply.hugeBodyBytes) {
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let left = reply.hugeBodyBytes;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
      return;
    }
    res.end(reply.body ?? 'ok');
  }
}
