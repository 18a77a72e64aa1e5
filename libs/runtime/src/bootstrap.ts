import { ConsoleLogger, type DynamicModule, Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { isUtf8 } from 'node:buffer';
import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problemBody } from './problem.filter';
import {
  BadRequestProblem,
  ContentTooLargeProblem,
  HeadersTooLargeProblem,
  RequestTimeoutProblem,
} from './problems';
import { ConfigError } from './runtime.config';
import { APP_CONFIG, type BaseConfig } from './runtime.module';

const LEVELS: Record<BaseConfig['LOG_LEVEL'], LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  log: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

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
  const logger = new ConsoleLogger({ json: true, prefix: options.app, colors: false });
  const app = await NestFactory.create<NestExpressApplication>(module(), {
    logger,
    bufferLogs: true,
    abortOnError: false,
  });
  const config = app.get<C>(APP_CONFIG);
  logger.setLogLevels(LEVELS[config.LOG_LEVEL]);
  app.enableShutdownHooks();
  app.useBodyParser('json', { limit: config.HTTP_BODY_LIMIT, verify: refuseInvalidUtf8 });
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  await options.configure?.(app, config);
  await app.listen(options.port(config), '0.0.0.0');
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${address.port}` };
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
  const body = problemBody(problem, undefined);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * Entry point of an app process: boots it, and turns a configuration error into one clear message and exit
 * code 78 (EX_CONFIG) instead of a stack trace. SIGTERM/SIGINT run Nest's shutdown hooks (enableShutdownHooks).
 */
export function main<C extends BaseConfig>(module: () => DynamicModule, options: AppOptions<C>): void {
  createApp(module, options).then(
    ({ url }) => new Logger('Bootstrap').log(`${options.app} listening on ${url}`),
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
