import { ProblemError } from '@tidings/runtime';
import type { Response } from 'express';
import { apiConfigSchema, type ApiConfig } from '../api.config';
import { ConsoleService } from './console.service';

const REQUIRED = { DATABASE_URL: 'postgres://u@localhost/db', KAFKA_BROKERS: 'localhost:9092' };

function setup(env: Record<string, string> = {}) {
  const config = apiConfigSchema.parse({ ...REQUIRED, ...env }) as ApiConfig;
  const sent: { headers: Record<string, string>; type?: string; body?: unknown } = { headers: {} };
  const res = {
    set: (headers: Record<string, string>) => (Object.assign(sent.headers, headers), res),
    type: (type: string) => ((sent.type = type), res),
    send: (body: unknown) => ((sent.body = body), res),
    json: (body: unknown) => ((sent.body = body), res),
  };
  return { sut: new ConsoleService(config), res: res as unknown as Response, sent };
}

describe('ConsoleService', () => {
  it('allows connections only to itself and the configured gateway origin', () => {
    const { sut, res, sent } = setup({ CONSOLE_STREAM_URL: 'https://sse.example.com/tidings/' });
    sut.send(res, 'index.html');
    expect(sent.type).toBe('text/html; charset=utf-8');
    expect(String(sent.body)).toContain('/console/assets/console.js');
    expect(sent.headers['Content-Security-Policy']).toContain("connect-src 'self' https://sse.example.com;");
    expect(sent.headers['Content-Security-Policy']).toContain("script-src 'self';");
    sut.sendConfig(res);
    expect(sent.body).toEqual({ streamUrl: 'https://sse.example.com/tidings' });
  });

  it.each(['secrets.txt', '../api.config.ts', '__proto__', 'hasOwnProperty'])(
    'answers 404 for %s, which is not one of its files',
    (name) => {
      const { sut, res } = setup();
      expect(() => sut.send(res, name)).toThrow(ProblemError);
    },
  );

  it.each(['ftp://sse.example.com', 'sse.example.com', 'javascript:alert(1)'])(
    'refuses CONSOLE_STREAM_URL=%s at boot',
    (url) => {
      const parsed = apiConfigSchema.safeParse({ ...REQUIRED, CONSOLE_STREAM_URL: url });
      expect(parsed.success).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toContain(
        'CONSOLE_STREAM_URL must be an absolute http(s) URL',
      );
    },
  );
});
