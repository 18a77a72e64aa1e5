import { ConsoleLogger, type DynamicModule, Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
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
  app.useBodyParser('json', { limit: config.HTTP_BODY_LIMIT });
  await options.configure?.(app, config);
  await app.listen(options.port(config), '0.0.0.0');
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${address.port}` };
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
