import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { buildConnector } from 'undici';
import { canonicalIp, classifyAddress, type ForbiddenRange } from './address';
import { normaliseHost } from './webhook-url';

/**
 * A connection refused because the host is, or resolves to, a non-public address (SSRF guard). The message
 * starts with `forbidden_address:` (the reason creation-time refusals carry too), so a recorded attempt error
 * says it was the policy, not the network.
 */
export class ForbiddenAddressError extends Error {
  readonly code = 'ERR_FORBIDDEN_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: ForbiddenRange,
  ) {
    super(`forbidden_address: refused to connect to ${host} (${address}): ${range} address`);
    this.name = 'ForbiddenAddressError';
  }
}

export interface EgressGuardOptions {
  /** Hosts trusted as named (from `normaliseHosts(WEBHOOK_ALLOWED_HOSTS)`); matched against the URL's host. */
  allowedHosts?: ReadonlySet<string>;
  /** The resolver; defaults to `dns.lookup`. Tests inject one to simulate DNS rebinding. */
  resolve?: typeof dnsLookup;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

const forbiddenIn = (addresses: LookupAddress[]) => {
  for (const a of addresses) {
    const range = classifyAddress(a.address);
    if (range !== null) return { address: a.address, range };
  }
  return undefined;
};

/**
 * A `lookup` for `net.connect`/`tls.connect` (and undici's `connect: { lookup }`): resolves every address of
 * the name and refuses the connection when ANY of them is forbidden — not just the one that would be tried
 * first — so a name mixing public and private records cannot be used to reach the private one. Hosts in
 * `allowedHosts` resolve normally. Answers in both shapes Node asks for (`all: true` or a single address).
 */
export function guardedLookup(options: EgressGuardOptions = {}) {
  const resolve = options.resolve ?? dnsLookup;
  return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses;
      if (!options.allowedHosts?.has(normaliseHost(hostname))) {
        const forbidden = forbiddenIn(list);
        if (forbidden)
          return callback(new ForbiddenAddressError(hostname, forbidden.address, forbidden.range), []);
      }
      if (lookupOptions.all) return callback(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * The post-connect check: the peer a socket is really connected to must be public. A socket whose peer is
 * unknown (already closed) is refused too.
 */
export function checkPeer(host: string, remoteAddress: string | undefined): ForbiddenAddressError | null {
  if (remoteAddress === undefined) return new ForbiddenAddressError(host, 'unknown', 'unspecified');
  const range = classifyAddress(remoteAddress);
  return range === null ? null : new ForbiddenAddressError(host, remoteAddress, range);
}

export interface GuardedConnectorOptions extends EgressGuardOptions {
  /** Connect (TCP + TLS handshake) timeout. */
  connectTimeoutMs: number;
}

type Connector = ReturnType<typeof buildConnector>;

/**
 * An undici `connect` function that enforces the SSRF guard at connect time, in three places: an IP-literal
 * host is classified before dialling (Node skips `lookup` for literals); names go through `guardedLookup`; and
 * the address the socket is actually connected to (`remoteAddress`) is checked again before any byte is sent,
 * so a DNS answer that changes between checks (rebinding) cannot slip through.
 */
export function guardedConnector(options: GuardedConnectorOptions): Connector {
  const allowed = options.allowedHosts ?? new Set<string>();
  const connect = buildConnector({
    timeout: options.connectTimeoutMs,
    lookup: guardedLookup(options),
  });
  return (connectOptions, callback) => {
    const host = connectOptions.hostname;
    const trusted = allowed.has(normaliseHost(host));
    if (!trusted) {
      const literal = canonicalIp(host);
      const range = literal === null ? null : classifyAddress(literal);
      if (literal !== null && range !== null) {
        callback(new ForbiddenAddressError(host, literal, range), null);
        return;
      }
    }
    connect(connectOptions, (error, socket) => {
      if (error || !socket) {
        callback(error ?? new Error('connect failed'), null);
        return;
      }
      const refused = trusted ? null : checkPeer(host, socket.remoteAddress);
      if (refused) {
        socket.destroy();
        callback(refused, null);
        return;
      }
      callback(null, socket);
    });
  };
}
