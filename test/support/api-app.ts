import type { INestApplication } from '@nestjs/common';
import { createDataSource } from '@tidings/db';
import { type AppOptions, createApp } from '@tidings/runtime';
import type { DataSource } from 'typeorm';
import type { ApiConfig } from '../../apps/api/src/api.config';
import { ApiModule } from '../../apps/api/src/api.module';
import { createTestDatabase } from './infra';
import { createTenant, type TestTenant } from './tenant';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { errors?: { field: string; message: string }[] };
}

export interface TestApi {
  app: INestApplication;
  url: string;
  /** One JSON request with a Bearer key (none when undefined); the body is parsed (problem+json too). */
  call(
    method: string,
    path: string,
    key: string | undefined,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  /** `call` with the body sent as given (malformed JSON, exact bytes): a JSON content type when there is one. */
  raw(
    method: string,
    path: string,
    key: string | undefined,
    body?: string,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
}

/** What a test may add to the api's boot: main.ts's own HTTP setup (`configure: setupOpenApi`, …). */
export type ApiBootOptions = Pick<AppOptions<ApiConfig>, 'configure'>;

/**
 * The api app booted in-process on port 0 against `databaseUrl`, quiet and without rate limiting (tests send
 * bursts). `env` overrides or adds variables. Close `app` in afterAll.
 */
export async function startApi(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: ApiBootOptions = {},
): Promise<TestApi> {
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
    { app: 'api', port: (c) => c.API_PORT, ...options },
  );
  return { app, url, call: apiCall(url), raw: apiRaw(url) };
}

/** `TestApi.raw` against the api at `url` (an in-process one, or an app process). */
export function apiRaw(url: string): TestApi['raw'] {
  return async (method, path, key, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? (JSON.parse(text) as ApiResponse['body']) : {},
    };
  };
}

/** `TestApi.call` against the api at `url`. */
export function apiCall(url: string): TestApi['call'] {
  const raw = apiRaw(url);
  return (method, path, key, body, headers) =>
    raw(method, path, key, body === undefined ? undefined : JSON.stringify(body), headers);
}

export interface ApiTest {
  db: { url: string };
  /** A pool of two on the test's database, for seeding and for reading what a request wrote. */
  ds: DataSource;
  api: TestApi;
  /** Two tenants, each with an admin and a read-only key: b is the "other tenant" of isolation checks. */
  a: TestTenant;
  b: TestTenant;
  /** Closes the app and the pool, and drops the database (afterAll). */
  close(): Promise<void>;
}

/** The usual api spec: its own database, the api on it (with `env` and `options`), and two tenants. */
export async function setupApiTest(
  env: Record<string, string> = {},
  options: ApiBootOptions = {},
): Promise<ApiTest> {
  const db = await createTestDatabase();
  const ds = createDataSource(db.url, 2);
  await ds.initialize();
  const api = await startApi(db.url, env, options);
  const a = await createTenant(ds, { name: 'a' });
  const b = await createTenant(ds, { name: 'b' });
  const close = async () => {
    await api.app.close();
    await ds.destroy();
    await db.drop();
  };
  return { db, ds, api, a, b, close };
}
