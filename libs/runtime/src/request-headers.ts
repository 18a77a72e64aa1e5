import { BlockList, isIP } from 'node:net';

// RFC 9110 §11.1: the auth scheme is case-insensitive and separated from its credentials by one or more
// spaces; RFC 6750 §2.1: a bearer token is a b64token.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
}

/** An address as a client or proxy writes it, in the form the rest of the code compares: no port, no brackets. */
function normalizeAddress(raw: string): string | undefined {
  let address = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1];
  return isIP(address) === 0 ? undefined : address.toLowerCase();
}

function isTrusted(address: string, trusted: BlockList): boolean {
  return trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Parses a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8, ::1`) into the set of proxies
 * whose X-Forwarded-For is believed. Returns the entries it cannot read instead, so config can name them.
 */
export function parseAddressList(list: string): { addresses: BlockList; invalid: string[] } {
  const addresses = new BlockList();
  const invalid: string[] = [];
  for (const entry of list
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      rest.length > 0 ||
      (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max))
    )
      invalid.push(entry);
    else if (bits === undefined) addresses.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
    else addresses.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return { addresses, invalid };
}

/**
 * The address a request comes from: the socket's peer, unless that peer is a trusted proxy; then the nearest
 * X-Forwarded-For hop (read from the right, the end the trusted proxies appended) that is not a trusted proxy.
 * Hops left of an untrusted one are the client's own claims and are never believed.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
): string {
  let address = (peer && normalizeAddress(peer)) ?? 'unknown';
  if (address === 'unknown' || forwardedFor === undefined || !isTrusted(address, trusted)) return address;
  const hops = ([] as string[]).concat(forwardedFor).join(',').split(',').reverse();
  for (const raw of hops) {
    const hop = normalizeAddress(raw);
    // A hop that is not an address: the trusted proxy that passed it on is the nearest address we know.
    if (hop === undefined) return address;
    address = hop;
    if (!isTrusted(hop, trusted)) return hop;
  }
  return address;
}
