import { EventSource, type FetchLike } from 'eventsource';
import { listEventTypes, type EventEnvelope } from '@tidings/events';
import { eventually } from './eventually';

export interface SseFrame {
  /** The SSE `id:` (a position), as the client saw it. */
  id: string;
  /** The SSE `event:` name: an event type, `reset` or `revoked`. */
  event: string;
  data: string;
}

export interface SseClientOptions {
  /** Sent as `Authorization: Bearer …` on every (re)connect; omit to use `access_token` in the URL. */
  token?: string;
  /** Sent on the first connect only; the library sends the last id it saw on every reconnect. */
  lastEventId?: string;
  headers?: Record<string, string>;
}

/**
 * The one SSE client for tests, on the `eventsource` package (the WHATWG algorithm: automatic reconnect with
 * `Last-Event-ID`). `target` may be a function, so a reconnect can land on another gateway instance, as a
 * browser behind a load balancer would. It records every frame, the raw bytes (comments such as
 * `:keepalive` included), and the Last-Event-ID sent on each connect.
 */
export class SseClient {
  readonly frames: SseFrame[] = [];
  /** Last-Event-ID header of each connect attempt (undefined when none was sent). */
  readonly connects: (string | undefined)[] = [];
  readonly errors: { code?: number; message?: string }[] = [];
  raw = '';
  private readonly source: EventSource;
  private opened = 0;

  constructor(
    private readonly target: string | (() => string),
    options: SseClientOptions = {},
  ) {
    let first = true;
    const fetchLike: FetchLike = async (url, init) => {
      const headers: Record<string, string> = { ...init.headers, ...options.headers };
      if (options.token) headers.Authorization = `Bearer ${options.token}`;
      if (first && options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
      first = false;
      this.connects.push(headers['Last-Event-ID'] ?? headers['last-event-id']);
      const res = await fetch(this.resolve(url), { ...init, headers });
      const body = res.body;
      return {
        url: res.url,
        status: res.status,
        redirected: res.redirected,
        headers: res.headers,
        body: body && {
          getReader: () => {
            const reader = body.getReader();
            const decoder = new TextDecoder();
            return {
              read: async () => {
                const chunk = await reader.read();
                if (!chunk.done) this.raw += decoder.decode(chunk.value, { stream: true });
                return chunk;
              },
              cancel: () => reader.cancel(),
            };
          },
        },
      };
    };
    this.source = new EventSource(typeof target === 'string' ? target : target(), { fetch: fetchLike });
    const record = (event: MessageEvent) =>
      this.frames.push({ id: event.lastEventId, event: event.type, data: String(event.data) });
    for (const t of [...listEventTypes().map((e) => e.type), 'reset', 'revoked', 'message']) {
      this.source.addEventListener(t, record);
    }
    this.source.addEventListener('open', () => this.opened++);
    this.source.addEventListener('error', (e) => this.errors.push({ code: e.code, message: e.message }));
  }

  /** Opens a stream and waits until the server has accepted it. */
  static async connect(target: string | (() => string), options: SseClientOptions = {}): Promise<SseClient> {
    const client = new SseClient(target, options);
    await eventually(() => {
      if (client.opened === 0)
        throw new Error(`stream not open yet; errors: ${JSON.stringify(client.errors)}`);
    });
    return client;
  }

  /** Event frames (not `reset` or `revoked`), decoded. */
  get events(): EventEnvelope[] {
    return this.frames
      .filter((f) => f.event !== 'reset' && f.event !== 'revoked')
      .map((f) => JSON.parse(f.data) as EventEnvelope);
  }

  get resets(): { reason: string; earliestPosition: number; latestPosition: number }[] {
    return this.frames.filter((f) => f.event === 'reset').map((f) => JSON.parse(f.data) as never);
  }

  /** The `revoked` frames' data: the stream's credential died while it was open. */
  get revocations(): { reason: string }[] {
    return this.frames.filter((f) => f.event === 'revoked').map((f) => JSON.parse(f.data) as never);
  }

  /** The id of the last frame received (what the client would resume from). */
  get lastEventId(): string | undefined {
    return this.frames.at(-1)?.id;
  }

  get openCount(): number {
    return this.opened;
  }

  get readyState(): number {
    return this.source.readyState;
  }

  close(): void {
    this.source.close();
  }

  private resolve(url: string | URL): string {
    if (typeof this.target === 'string') return String(url);
    // Same path and query, current target's origin: a reconnect lands wherever the target now points.
    const u = new URL(String(url));
    const t = new URL(this.target());
    u.protocol = t.protocol;
    u.host = t.host;
    return u.toString();
  }
}
