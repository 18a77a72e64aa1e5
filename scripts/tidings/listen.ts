/**
 * `tidings listen` and `tidings resend`: the tenant's events, from the SSE gateway or the event log, signed
 * with a local secret (Standard Webhooks, libs/signing) and POSTed to a local URL — `stripe listen
 * --forward-to` for Tidings. The `eventsource` client resumes with Last-Event-ID after every disconnect; a
 * stream silent for three heartbeats (a laptop that slept, a dead NAT mapping) is dropped and resumed too,
 * so nothing committed meanwhile is missed. Events are forwarded one at a time, in position order.
 */
import { listEventTypes } from '@tidings/events';
import { generateSecret, parseSecret, signPayload } from '@tidings/signing';
import { EventSource, type FetchLike } from 'eventsource';
import { CliError, EXIT, needApiKey, parse, required, type CliEnv } from './main';

// The dispatcher's own total timeout for one attempt (WEBHOOK_TIMEOUT_MS): a local app gets no less.
const FORWARD_TIMEOUT_MS = 15_000;

const OPTIONS = {
  'forward-to': { type: 'string' },
  types: { type: 'string' },
  secret: { type: 'string' },
  since: { type: 'string' },
  'api-key': { type: 'string' },
} as const;

interface Forwarder {
  url: string;
  secret: string;
}

function forwarder(values: { 'forward-to'?: string; secret?: string }, env: CliEnv): Forwarder {
  const url = required(values['forward-to'], '--forward-to <url>');
  if (!/^https?:\/\//.test(url))
    throw new CliError(`--forward-to must be an http(s) URL, got ${url}`, EXIT.usage);
  const secret = values.secret ?? env.webhookSecret ?? generateSecret();
  try {
    parseSecret(secret);
  } catch (error) {
    throw new CliError(`--secret: ${(error as Error).message}`, EXIT.usage);
  }
  return { url, secret };
}

/** Signs exactly `body`, POSTs it, prints one line; resolves with the status (0: no answer). */
async function forward(to: Forwarder, body: string, note = ''): Promise<number> {
  const envelope = JSON.parse(body) as { eventId: string; eventType: string; position?: number };
  const headers = signPayload({
    id: envelope.eventId,
    timestamp: Math.floor(Date.now() / 1000),
    body,
    secrets: [to.secret],
  });
  const started = performance.now();
  let outcome: string;
  let status = 0;
  try {
    const res = await fetch(to.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Tidings-CLI/1' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    status = res.status;
    outcome = String(res.status);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    outcome = `error ${cause ?? (error as Error).name}`;
  }
  const ms = Math.round(performance.now() - started);
  const at = new Date().toISOString().slice(11, 19);
  process.stdout.write(
    `${at}  ${envelope.eventType.padEnd(28)} ${envelope.eventId}  position ${envelope.position ?? '-'}  → ${outcome} in ${ms} ms${note}\n`,
  );
  return status;
}

export async function listen(args: string[], env: CliEnv): Promise<number> {
  const { values } = parse(args, OPTIONS);
  const to = forwarder(values, env);
  const key = needApiKey(env, values['api-key']);
  if (values.since !== undefined && !/^(0|[1-9][0-9]*)$/.test(values.since)) {
    throw new CliError(`--since must be a position (a whole number), got ${values.since}`, EXIT.usage);
  }
  const query = new URLSearchParams();
  if (values.types) query.set('types', values.types);
  if (values.since !== undefined) query.set('lastEventId', values.since);
  const url = `${env.sseUrl}/events/stream${query.size ? `?${query.toString()}` : ''}`;

  const source = new EventSource(url, { fetch: watchedFetch(key, env.listenIdleMs) });
  process.stdout.write(
    `Forwarding ${values.types ?? 'all'} events of your tenant to ${to.url}\n` +
      `Signing secret: ${to.secret}\n` +
      `(verify with it in your app; pass --secret to keep it across runs)\n`,
  );
  let queue = Promise.resolve();
  let lastId: string | undefined = values.since;
  let opened = 0;
  source.addEventListener('open', () => {
    opened++;
    process.stdout.write(
      opened === 1
        ? `Ready: streaming from ${url}\n`
        : `Reconnected, resuming after position ${lastId ?? '-'}\n`,
    );
  });
  const onEvent = (event: MessageEvent) => {
    lastId = event.lastEventId;
    queue = queue.then(() => forward(to, String(event.data)).then(() => undefined));
  };
  for (const { type } of listEventTypes()) source.addEventListener(type, onEvent);
  source.addEventListener('reset', (event: MessageEvent) => {
    lastId = event.lastEventId;
    process.stdout.write(
      `Stream reset (${String(event.data)}); continuing live from position ${event.lastEventId}\n`,
    );
  });

  return new Promise<number>((resolve) => {
    const stop = (code: number) => {
      source.close();
      void queue.then(() => resolve(code));
    };
    source.addEventListener('error', (event: { code?: number; message?: string }) => {
      // eventsource reconnects by itself after network errors; an HTTP error answer ends the stream.
      if (source.readyState === EventSource.CLOSED) {
        process.stderr.write(
          `tidings: the gateway refused the stream (${event.code ?? ''} ${event.message ?? ''})\n`,
        );
        stop(EXIT.failed);
      } else if (opened > 0) {
        process.stdout.write(`Disconnected (${event.message ?? 'network error'}); reconnecting…\n`);
      }
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(EXIT.ok));
  });
}

/** fetch for the EventSource: the key as a Bearer header, and an idle watchdog that aborts a silent stream. */
function watchedFetch(key: string, idleMs: number): FetchLike {
  return async (url, init) => {
    const idle = new AbortController();
    const res = await fetch(url, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${key}` },
      signal: init.signal ? AbortSignal.any([init.signal, idle.signal]) : idle.signal,
    });
    const body = res.body;
    let timer = setTimeout(() => idle.abort(), idleMs);
    const reader = body?.getReader();
    return {
      url: res.url,
      status: res.status,
      redirected: res.redirected,
      headers: res.headers,
      body: reader
        ? {
            getReader: () => ({
              read: async () => {
                try {
                  const chunk = await reader.read();
                  clearTimeout(timer);
                  if (!chunk.done) timer = setTimeout(() => idle.abort(), idleMs);
                  return chunk;
                } catch (error) {
                  clearTimeout(timer);
                  // eventsource treats an AbortError as its own close(): report the silence as what it is, a
                  // lost connection, so it reconnects with Last-Event-ID.
                  if (idle.signal.aborted) throw new Error(`no bytes for ${idleMs} ms`);
                  throw error;
                }
              },
              cancel: () => {
                clearTimeout(timer);
                return reader.cancel();
              },
            }),
          }
        : null,
    };
  };
}

export async function resend(args: string[], env: CliEnv): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS);
  const eventId = required(positionals[0], 'resend <eventId>');
  const to = forwarder(values, env);
  const key = needApiKey(env, values['api-key']);
  const res = await fetch(`${env.apiUrl}/events/${encodeURIComponent(eventId)}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await res.text();
  if (!res.ok) throw new CliError(`GET /events/${eventId} answered ${res.status}: ${body}`);
  if (!values.secret && !env.webhookSecret) process.stdout.write(`Signing secret: ${to.secret}\n`);
  const status = await forward(to, body, '  (resent)');
  return status >= 200 && status < 300 ? EXIT.ok : EXIT.failed;
}
