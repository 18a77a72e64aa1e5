import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { type DestinationStream, type Logger as Pino, pino } from 'pino';
import { type HttpLogger, pinoHttp } from 'pino-http';
import type { RuntimeConfig } from './runtime.config';

const LEVELS: Record<RuntimeConfig['LOG_LEVEL'], pino.Level> = {
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
};

// Never written whatever a caller passes: credentials (API keys, stream tokens, signing secrets) and headers
// that carry them. Access lines hold no headers nor query string at all; this catches a field logged by mistake.
const REDACTED = ['authorization', 'access_token', 'apiKey', 'secret', 'secrets', 'token', 'cookie'].flatMap(
  (key) => [key, `*.${key}`],
);

// What a client's X-Request-Id may be: a token of up to 128 URL-safe characters (UUIDs, ULIDs, trace ids).
// Anything else (empty, longer, spaces, quotes, control characters) is replaced, so log lines and problem
// bodies never carry what a client chose to inject.
const REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** The request id of a request: the client's X-Request-Id when it is a sane token, a new UUID otherwise. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
}

/** The id an access-logged request was given (undefined before the access log has seen it). */
export function requestIdFor(req: IncomingMessage): string | undefined {
  const id = (req as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The route template of a request (`/orders/:id`, never the raw URL: ids and query strings stay out of labels
 * and logs): Express's matched route, the template a handler outside Express named with `accessLog()`, or
 * `unmatched`.
 */
export function routeOf(req: IncomingMessage): string {
  const named = (req as { [ROUTE]?: string })[ROUTE];
  if (named) return named;
  const express = req as { baseUrl?: string; route?: { path?: string } };
  return express.route?.path ? `${express.baseUrl ?? ''}${express.route.path}` : 'unmatched';
}

const ROUTE = Symbol('route');

/** Probes and scrapes: logged at debug, so a scrape every few seconds does not drown the access log. */
const isProbe = (route: string) => route === '/metrics' || route.startsWith('/health/');

/** One app's JSON logger: `level`, `timestamp`, `app`, `pid`, then the line's own fields and `message`. */
export function createLogger(app: string, config: RuntimeConfig, destination?: DestinationStream): Pino {
  return pino(
    {
      level: LEVELS[config.LOG_LEVEL],
      base: { app, pid: process.pid },
      messageKey: 'message',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/**
 * The access log: one line per request when its response ends (`method`, `route`, `status`, `durationMs`,
 * `requestId`), and the request id itself — accepted or generated, set as the `X-Request-Id` response header and
 * bound to every line logged while the request is handled. The line is written from these fields alone: no URL
 * (the SSE `access_token` rides in the query), no headers.
 */
export function createAccessLog(logger: Pino): HttpLogger {
  const fields = (req: IncomingMessage, res: ServerResponse, durationMs: unknown) => ({
    method: req.method,
    route: routeOf(req),
    status: res.statusCode,
    durationMs,
  });
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const id = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    customLogLevel: (req, res, error) => {
      // A probe answering 503 says "not ready" (the broker is away, the app is draining): worth a warning,
      // not an error line per poll for the length of an outage.
      if (isProbe(routeOf(req))) return res.statusCode >= 500 ? 'warn' : 'debug';
      return error || res.statusCode >= 500 ? 'error' : 'info';
    },
    customSuccessObject: (req, res, value: { durationMs?: unknown }) => fields(req, res, value.durationMs),
    customErrorObject: (req, res, error, value: { durationMs?: unknown }) => ({
      ...fields(req, res, value.durationMs),
      // For a 5xx answered without an error pino-http makes one up ("failed with status code 503"), whose stack
      // says nothing the status does not: only a real error (the response failed, the client went away) is kept.
      ...(isStandIn(error, res) ? {} : { err: error }),
    }),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
  });
}

const isStandIn = (error: Error, res: ServerResponse) =>
  error.message === `failed with status code ${res.statusCode}` && !(res as { err?: unknown }).err;

/**
 * Access-logs a request served outside Express (the SSE stream), under the route template given: the same line
 * and request id as every other request.
 */
export function accessLog(log: HttpLogger, req: IncomingMessage, res: ServerResponse, route: string): void {
  (req as { [ROUTE]?: string })[ROUTE] = route;
  log(req, res);
}

/**
 * nestjs-pino wired onto the app's logger: Nest's `Logger` (what every service uses) writes through pino, and
 * inside a request through that request's child logger, so its lines carry the `requestId`. `useExisting`:
 * the access log is mounted by `createApp` ahead of the body parsers (a request refused there is still logged
 * and still gets its id), not as Nest middleware. One app per process: Nest's `Logger` is process-wide and
 * nestjs-pino keeps its logger for lines outside a request in a module-level variable, so apps sharing a test
 * process write those lines under the first app's name (access lines keep their own).
 */
export function loggerModule(logger: Pino) {
  return LoggerModule.forRoot({ pinoHttp: { logger }, useExisting: true, forRoutes: ['*'] });
}
