import { canonicalIp, classifyAddress, type ForbiddenRange } from './address';

export type WebhookUrlProblem =
  | 'invalid_url'
  | 'unsupported_scheme'
  | 'https_required'
  | 'credentials_not_allowed'
  | 'too_long'
  | 'fragment_not_allowed'
  | 'forbidden_address';

/** A URL that cannot be a webhook endpoint; `reason` is stable (for clients), `message` is for humans. */
export class WebhookUrlError extends Error {
  constructor(
    readonly reason: WebhookUrlProblem,
    message: string,
    readonly range?: ForbiddenRange,
  ) {
    super(message);
    this.name = 'WebhookUrlError';
  }
}

// 2048: what browsers and most proxies reliably carry; a longer webhook URL is a mistake or an attack.
export const MAX_WEBHOOK_URL_LENGTH = 2048;

export interface WebhookUrlOptions {
  /** Accept `http:` (local development and tests); production requires https. */
  allowHttp?: boolean;
  /** Hosts trusted as named (WEBHOOK_ALLOWED_HOSTS), exempt from the address check. See `normaliseHosts`. */
  allowedHosts?: ReadonlySet<string>;
}

/**
 * The comparable form of a host: lower case, no brackets, IP literals canonical, so `[::1]`, `::1` and
 * `0:0:0:0:0:0:0:1` are one entry and `127.1` matches `127.0.0.1`.
 */
export function normaliseHost(host: string): string {
  const lower = host.trim().toLowerCase();
  return canonicalIp(lower) ?? lower.replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/**
 * A comma-separated allowlist (`127.0.0.1,localhost`) as the set `parseWebhookUrl` and the guard use. Config
 * reads WEBHOOK_ALLOWED_HOSTS through `egressConfigSchema`, which validates the entries first.
 */
export function normaliseHosts(list: string | readonly string[]): ReadonlySet<string> {
  const items = typeof list === 'string' ? list.split(',') : list;
  return new Set(
    items
      .map((h) => h.trim())
      .filter(Boolean)
      .map(normaliseHost),
  );
}

/**
 * Validates a webhook URL at creation time: http(s) only, https unless `allowHttp`, no credentials, no
 * fragment, at most 2048 characters, no `localhost`/`*.localhost` name, and no IP literal outside public
 * unicast in any spelling (the WHATWG parser normalises `127.1`, `0x7f000001`, `0177.0.0.1`,
 * `[::ffff:0:127.0.0.1]` … before the check; IPv6 must be global unicast, see `classifyAddress`). Hosts in
 * `allowedHosts` skip the address rules. Other names are accepted here: what they resolve to is checked at
 * connect time by `guardedLookup`/`guardedConnector`.
 * @throws WebhookUrlError with a precise reason.
 */
export function parseWebhookUrl(input: string, options: WebhookUrlOptions = {}): URL {
  if (input.length > MAX_WEBHOOK_URL_LENGTH)
    throw new WebhookUrlError('too_long', `URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new WebhookUrlError('invalid_url', 'not an absolute URL');
  }
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH)
    throw new WebhookUrlError('too_long', `URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new WebhookUrlError('unsupported_scheme', `scheme ${url.protocol} is not allowed; use https`);
  if (url.protocol === 'http:' && !options.allowHttp)
    throw new WebhookUrlError('https_required', 'https is required');
  if (url.username !== '' || url.password !== '')
    throw new WebhookUrlError('credentials_not_allowed', 'credentials in the URL are not allowed');
  if (url.hash !== '' || input.includes('#'))
    throw new WebhookUrlError('fragment_not_allowed', 'a fragment (#…) is not allowed');
  if (url.hostname === '') throw new WebhookUrlError('invalid_url', 'the URL has no host');
  const host = normaliseHost(url.hostname);
  if (options.allowedHosts?.has(host)) return url;
  // `localhost` and `*.localhost` always resolve to loopback (RFC 6761): refused now, not only at connect time.
  if (host === 'localhost' || host.endsWith('.localhost'))
    throw new WebhookUrlError(
      'forbidden_address',
      `${url.hostname} is a loopback name; webhooks go to public addresses only`,
      'loopback',
    );
  const ip = canonicalIp(url.hostname);
  if (ip !== null) {
    const range = classifyAddress(ip);
    if (range !== null)
      throw new WebhookUrlError(
        'forbidden_address',
        `${url.hostname} is a ${range} address; webhooks go to public addresses only`,
        range,
      );
  }
  return url;
}
