import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ACCESS_LOG, accessLog, writeProblem } from '@tidings/runtime';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HttpLogger } from 'pino-http';
import { parseStreamQuery } from './stream.dto';
import { StreamService } from './stream.service';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export const STREAM_PATH = '/events/stream';

/**
 * Serves `GET /events/stream` on the HTTP server itself, ahead of Express and Nest; every other request goes
 * on to them unchanged. A stream lives for hours and there are 10,000 of them per process: what the framework
 * keeps per request (route state, query objects, middleware closures) roughly doubled the heap of an idle
 * connection (docs/benchmarks.md), and none of it is needed to write frames.
 *
 * The request gets what the rest of the API gives: the query validated by `parseStreamQuery`, errors as
 * problem+json (`writeProblem`, the same rendering as the ProblemFilter; `instance` is the path alone, so an
 * `access_token` in the query is never echoed), a request id and an access line when the stream ends, under its
 * route template. Not counted in the HTTP request metrics: streams have their own (`tidings_sse_*`).
 */
@Injectable()
export class StreamRoute implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly streams: StreamService,
    @Inject(ACCESS_LOG) private readonly accessLog: HttpLogger,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    const framework = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET' && pathOf(req.url) === STREAM_PATH) this.serve(req, res);
      else for (const listener of framework) listener.call(server, req, res);
    });
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    accessLog(this.accessLog, req, res, STREAM_PATH);
    try {
      const query = parseStreamQuery(queryOf(req.url));
      this.streams
        .open(req, res, query, header('authorization'), header('last-event-id'))
        .catch((error: unknown) => writeProblem(req, res, error, STREAM_PATH));
    } catch (error) {
      writeProblem(req, res, error, STREAM_PATH);
    }
  }
}

function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0];
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The query string as parseStreamQuery expects it: a repeated name becomes an array (and is refused there). */
function queryOf(url: string | undefined): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const [name, value] of new URL(url ?? '/', 'http://gateway').searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : ([] as unknown[]).concat(seen, value);
  }
  return query;
}
