import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, NotFoundProblem } from '@tidings/runtime';
import type { Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiConfig } from '../api.config';

// The console's static bundle (apps/api/console): index.html plus what scripts/console-build.ts emits into
// assets/. Same relative place from src/ and from the compiled dist/ (the Dockerfile copies it there).
export const CONSOLE_PUBLIC_DIR = join(__dirname, '..', '..', 'console', 'public');

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

export interface ConsoleConfig {
  /** Origin (and optional path) of the SSE gateway, for GET <streamUrl>/events/stream. */
  streamUrl: string;
}

/**
 * Serves the console's few fixed files, read once at boot (a missing bundle stops boot, not a page later),
 * with a strict Content-Security-Policy: scripts and styles only from the api itself, network calls only
 * to the api and the configured SSE gateway, no framing. Express answers the ETag / 304 itself.
 */
@Injectable()
export class ConsoleService {
  private readonly files = new Map<string, Buffer>();
  private readonly headers: Record<string, string>;
  readonly config: ConsoleConfig;

  constructor(@Inject(APP_CONFIG) config: ApiConfig) {
    for (const name of Object.keys(TYPES)) {
      const path = name === 'index.html' ? name : join('assets', name);
      this.files.set(name, readFileSync(join(CONSOLE_PUBLIC_DIR, path)));
    }
    this.config = { streamUrl: config.CONSOLE_STREAM_URL };
    const csp = [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      // Pico.css draws its checkbox, select and spinner icons as data: SVG.
      "img-src 'self' data:",
      `connect-src 'self' ${new URL(config.CONSOLE_STREAM_URL).origin}`,
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; ');
    this.headers = {
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    };
  }

  /** Sends index.html, console.js or console.css; any other name is a 404. */
  send(res: Response, name: string): void {
    const body = Object.hasOwn(TYPES, name) ? this.files.get(name) : undefined;
    if (!body) throw new NotFoundProblem('Console file', name);
    res.set(this.headers).type(TYPES[name]).send(body);
  }

  sendConfig(res: Response): void {
    res.set(this.headers).json(this.config);
  }
}
