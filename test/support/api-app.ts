import type { INestApplication } from '@nestjs/common';
import { createApp } from '@tidings/runtime';
import type { ApiConfig } from '../../apps/api/src/api.config';
import { ApiModule } from '../../apps/api/src/api.module';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { errors?: { field: string; message: string }[] };
}

export interface TestApi {
  app: INestApplication;
  url: string;
  /** One JSON request with a Bearer key; the body is parsed (problem+json too). */
  call(method: string, path: string, key: string, body?: unknown): Promise<ApiResponse>;
}

/**
 * The api app booted in-process on port 0 against `databaseUrl`, quiet and without rate limiting (tests send
 * bursts). `env` overrides or adds variables. Close `app` in afterAll.
 */
export async function startApi(databaseUrl: string, env: Record<string, string> = {}): Promise<TestApi> {
  const { app, url } = await createApp<ApiConfig>(
    () =>
      ApiModule.forRoot({
        ...process.env,
        DATABASE_URL: databaseUrl,
        DB_POOL_SIZE: '8',
        LOG_LEVEL: 'error',
        API_PORT: '0',
        AUTH_CACHE_MS: '0',
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '100000',
        ...env,
      }),
    { app: 'api', port: (c) => c.API_PORT },
  );
  const call = async (method: string, path: string, key: string, body?: unknown): Promise<ApiResponse> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? (JSON.parse(text) as ApiResponse['body']) : {},
    };
  };
  return { app, url, call };
}
