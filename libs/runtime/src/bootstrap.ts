import { type DynamicModule, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { TidingsKafkaServer } from '@tidings/kafka';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { HttpLogger } from 'pino-http';
import { problemBody } from './problem.filter';
import {
  BadRequestProblem,
  ContentTooLargeProblem,
  HeadersTooLargeProblem,
  RequestTimeoutProblem,
} from './problems';
import { ConfigError } from './runtime.config';
import { ACCESS_LOG, APP_CONFIG, type BaseConfig, KAFKA_TRANSPORTS } from './runtime.module';

export interface AppOptions<C extends BaseConfig> {
  app: string;
  port: (config: C) => number;
  /** App-specific HTTP setup (body limits, OpenAPI, …) before listening. */
  configure?: (app: NestExpressApplication, config: C) => void | Promise<void>;
}

/** Creates, configures and starts one app; returns it listening. Used by main.ts and by tests. */
export async function createApp<C extends BaseConfig>(
  module: () => DynamicModule,
  options: AppOptions<C>,
): Promise<{ app: NestExpressApplication; config: C; url: string }> {
  const app = await NestFactory.create<NestExpressApplication>(module(), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(PinoNestLogger));
  const config = app.get<C>(APP_CONFIG);
  // First: every request gets its id and its access line, also one the body parser refuses.
  app.use(app.get<HttpLogger>(ACCESS_LOG));
  app.useBodyParser('json', { limit: config.HTTP_BODY_LIMIT, verify: refuseInvalidUtf8 });
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  await options.configure?.(app, config);
  // Bootstrap hooks first: the loops a consumer's handlers feed (the dispatcher's worker, the gateway's
  // reorder buffers) are running before the first record arrives. Then the consumers, then HTTP.
  await app.init();
  // Not `inheritAppConfig`: the app's global problem+json filter answers HTTP requests; a consumer's errors must
  // reach its transport as thrown, which decides commit, dead letter or retry.
  for (const strategy of app.get<TidingsKafkaServer[]>(KAFKA_TRANSPORTS))
    app.connectMicroservice({ strategy });
  await app.startAllMicroservices();
  await app.listen(options.port(config), '0.0.0.0');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  new Logger('Lifecycle').log({ lifecycle: 'ready', url }, `${options.app} ready on ${url}`);
  return { app, config, url };
}

/**
 * JSON is UTF-8 (RFC 8259); decoding would turn each invalid byte into U+FFFD and store that instead of what the
 * client meant. Runs on the decoded (decompressed) bytes; a problem keeps its status through body-parser.
 */
function refuseInvalidUtf8(_req: IncomingMessage, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw new BadRequestProblem('The request body is not valid UTF-8');
}

/**
 * Node's own answer to a request it cannot parse (headers over its limit, malformed HTTP) is a bare status line;
 * this one is the same status with a problem+json body, like every other error of the API. The connection is
 * closed: Node has stopped parsing it.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // Nothing can be answered on a reset connection, nor once a response on this keep-alive socket has started:
  // Node's own handler makes the same check on the socket's in-flight response (`_httpMessage`).
  const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeProblem(`The request headers exceed ${maxHeaderSize / 1024} KiB`)
      : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? new ContentTooLargeProblem('The chunk extensions exceed the size limit')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new RequestTimeoutProblem('The request was not received in time')
          : new BadRequestProblem('The request is not valid HTTP/1.1');
  // Unparsed: no client id can be trusted, so a fresh one, logged with the refusal.
  const requestId = randomUUID();
  new Logger('HTTP').log(
    { requestId, status: problem.status, reason: error.code },
    'request refused unparsed',
  );
  const body = problemBody(problem, undefined, requestId);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `X-Request-Id: ${requestId}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Entry point of an app process: boots it, and turns a configuration error into one clear message and exit
 * code 78 (EX_CONFIG) instead of a stack trace. SIGTERM/SIGINT drain the app (Nest's shutdown hooks: each loop
 * stops taking work, finishes what it holds, releases its connections), logged as `draining` then `stopped`;
 * then the process ends by that signal, as it would have without a handler.
 */
export function main<C extends BaseConfig>(module: () => DynamicModule, options: AppOptions<C>): void {
  createApp(module, options).then(
    ({ app }) => {
      const logger = new Logger('Lifecycle');
      let draining = false;
      const drain = async (signal: NodeJS.Signals) => {
        if (draining) return; // a second signal while draining: the first one's shutdown goes on
        draining = true;
        const started = performance.now();
        logger.log({ lifecycle: 'draining', signal }, `${options.app} draining on ${signal}`);
        try {
          await app.close();
        } catch (error) {
          logger.error({ err: error, lifecycle: 'stopped', signal }, `${options.app} failed to shut down`);
          process.exit(1);
        }
        const durationMs = Math.round(performance.now() - started);
        logger.log({ lifecycle: 'stopped', signal, durationMs }, `${options.app} stopped`);
        for (const s of SIGNALS) process.removeAllListeners(s);
        process.kill(process.pid, signal);
      };
      for (const signal of SIGNALS) process.on(signal, (s: NodeJS.Signals) => void drain(s));
    },
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${options.app}: ${error.message}\n`);
        process.exit(78);
      }
      process.stderr.write(
        `${options.app}: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
