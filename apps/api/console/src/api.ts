// The console's only way to the server: the public API with the signed-in key as a Bearer token.
// Response shapes are the API's own DTOs (type-only imports: nothing of the server reaches the bundle).
import type { ConsoleConfig } from '../../src/console/console.service';
import type {
  CountDto,
  DeliveryDetailDto,
  DeliveryDto,
  DeliveryPageDto,
} from '../../src/deliveries/deliveries.dto';
import type { EventTypeDto, EventTypeListDto } from '../../src/event-types/event-types.dto';
import type { StreamTokenDto } from '../../src/stream-tokens/stream-tokens.dto';
import type {
  CreatedWebhookDto,
  EnabledWebhookDto,
  RotatedSecretDto,
  TestSentDto,
  WebhookDto,
  WebhookPageDto,
} from '../../src/webhooks/webhooks.dto';

export type {
  ConsoleConfig,
  CountDto,
  CreatedWebhookDto,
  DeliveryDetailDto,
  DeliveryDto,
  DeliveryPageDto,
  EnabledWebhookDto,
  EventTypeDto,
  EventTypeListDto,
  RotatedSecretDto,
  StreamTokenDto,
  TestSentDto,
  WebhookDto,
  WebhookPageDto,
};

// sessionStorage: the key lives as long as the tab, is never written to disk by us, never sent elsewhere.
const KEY_ITEM = 'tidings.console.apiKey';
export const SIGNED_OUT = 'tidings:signed-out';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function signOut(reason?: string): void {
  sessionStorage.removeItem(KEY_ITEM);
  window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: reason }));
}

/** An RFC 9457 problem answered by the API. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; errors?: { field: string; message: string }[] },
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

async function call<T>(method: string, path: string, body?: unknown, key = storedKey()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${key ?? ''}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const error = new ApiError(res.status, (data ?? { title: res.statusText }) as ApiError['problem']);
    if (res.status === 401 && key === storedKey()) signOut(error.message);
    throw error;
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => call<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  /** Checks a key before keeping it: any read answers 401 for an unknown or revoked key. */
  check: (key: string) => call<WebhookPageDto>('GET', '/webhooks?limit=1', undefined, key),
};

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function consoleConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/console/config.json');
  return (await res.json()) as ConsoleConfig;
}
