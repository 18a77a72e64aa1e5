import { isIPv4 } from 'node:net';

/**
 * Why an address is not a public unicast destination. Webhook receivers live on the public internet; anything
 * else (the host itself, the private network, cloud metadata at 169.254.169.254, …) is an SSRF target. IPv6 is
 * an allow-list: only global unicast (2000::/3) outside the registry's special-purpose blocks; the rest of the
 * space is `reserved` unless a more precise name applies.
 */
export type ForbiddenRange =
  | 'unspecified'
  | 'this-network'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'ietf-protocol'
  | 'documentation'
  | '6to4-relay'
  | 'benchmarking'
  | 'multicast'
  | 'reserved'
  | 'broadcast'
  | 'ipv4-mapped'
  | 'ipv4-translated'
  | 'ipv4-compatible'
  | 'nat64'
  | '6to4'
  | 'teredo'
  | 'discard-only'
  | 'unique-local'
  | 'site-local';

interface V4Range {
  base: number;
  bits: number;
  range: ForbiddenRange;
}

const v4 = (cidr: string, range: ForbiddenRange): V4Range => {
  const [address, bits] = cidr.split('/');
  return { base: ipv4ToInt(address), bits: Number(bits), range };
};

// Order matters only for naming: the first match names the range (broadcast before the reserved 240/4).
const V4_FORBIDDEN: V4Range[] = [
  v4('255.255.255.255/32', 'broadcast'),
  v4('0.0.0.0/32', 'unspecified'),
  v4('0.0.0.0/8', 'this-network'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'cgnat'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'ietf-protocol'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4-relay'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function classifyV4(value: number): ForbiddenRange | null {
  for (const { base, bits, range } of V4_FORBIDDEN) {
    const size = 2 ** (32 - bits);
    if (value >= base && value < base + size) return range;
  }
  return null;
}

/** 16 bytes of a valid IPv6 literal (with or without an embedded dotted quad, without brackets or zone). */
function ipv6ToBytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = ipv4ToInt(dotted[1]);
    tail.push((n >>> 16) & 0xffff, n & 0xffff);
    text = text.slice(0, -dotted[1].length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const fill = 8 - left.length - right.length - tail.length;
  const groups = [...left, ...Array<number>(rest === undefined ? 0 : fill).fill(0), ...right, ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

const startsWith = (bytes: number[], prefix: number[], bits: number): boolean => {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((bytes[byte] & mask) !== (prefix[byte] & mask)) return false;
  }
  return true;
};

interface V6Range {
  prefix: number[];
  bits: number;
}

const v6 = (cidr: string): V6Range => {
  const [address, bits] = cidr.split('/');
  return { prefix: ipv6ToBytes(address), bits: Number(bits) };
};

const v4At = (bytes: number[], offset: number) =>
  ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;

// The only IPv6 space webhooks may reach: global unicast (RFC 4291 §2.4). Everything outside it is refused.
const GLOBAL_UNICAST = v6('2000::/3');

// Outside 2000::/3 every address is refused; these names only say why. The forms that embed an IPv4 address
// are named after that address when it is itself forbidden (`::ffff:127.0.0.1` is a loopback address).
const V6_OUTSIDE: [V6Range, ForbiddenRange, embeddedV4At?: number][] = [
  [v6('::ffff:0:0/96'), 'ipv4-mapped', 12],
  [v6('::ffff:0:0:0/96'), 'ipv4-translated', 12],
  [v6('::/96'), 'ipv4-compatible', 12],
  [v6('64:ff9b::/96'), 'nat64', 12],
  [v6('64:ff9b:1::/48'), 'nat64'],
  [v6('100::/64'), 'discard-only'],
  [v6('fc00::/7'), 'unique-local'],
  [v6('fe80::/10'), 'link-local'],
  [v6('fec0::/10'), 'site-local'],
  [v6('ff00::/8'), 'multicast'],
];

// Inside 2000::/3, the IANA IPv6 special-purpose registry's blocks that are not globally reachable. First match
// wins, so the registry's globally reachable sub-blocks of 2001::/23 come before it (allowed: null).
const V6_SPECIAL: [V6Range, ForbiddenRange | null][] = [
  [v6('2001:1::1/128'), null], // Port Control Protocol anycast
  [v6('2001:1::2/128'), null], // TURN anycast
  [v6('2001:1::3/128'), null], // DNS-SD service registration anycast
  [v6('2001:3::/32'), null], // AMT
  [v6('2001:4:112::/48'), null], // AS112-v6
  [v6('2001:20::/28'), null], // ORCHIDv2
  [v6('2001:30::/28'), null], // drone remote ID entity tags
  [v6('2001::/32'), 'teredo'],
  [v6('2001:2::/48'), 'benchmarking'],
  [v6('2001::/23'), 'ietf-protocol'],
  [v6('2001:db8::/32'), 'documentation'],
  [v6('3fff::/20'), 'documentation'],
];

// 6to4 (2002::/16) reaches the IPv4 address in bits 16-47: it is judged as that address.
const SIX_TO_FOUR = v6('2002::/16');

function classifyV6(bytes: number[]): ForbiddenRange | null {
  const is = (r: V6Range) => startsWith(bytes, r.prefix, r.bits);
  if (!is(GLOBAL_UNICAST)) {
    if (bytes.every((b) => b === 0)) return 'unspecified';
    if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return 'loopback';
    const outside = V6_OUTSIDE.find(([r]) => is(r));
    if (!outside) return 'reserved';
    const [, range, embeddedAt] = outside;
    return (embeddedAt === undefined ? null : classifyV4(v4At(bytes, embeddedAt))) ?? range;
  }
  const special = V6_SPECIAL.find(([r]) => is(r));
  if (special) return special[1];
  if (is(SIX_TO_FOUR)) return classifyV4(v4At(bytes, 2)) === null ? null : '6to4';
  return null;
}

/**
 * The canonical form of an IP literal in any spelling the WHATWG URL parser accepts for a host (`127.1`,
 * `2130706433`, `0x7f.1`, `0177.0.0.1`, `[::ffff:127.0.0.1]`, `::1` …), or null when it is not an IP literal.
 * IPv6 results have no brackets.
 */
export function canonicalIp(input: string): string | null {
  const bare = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  if (isIPv4(bare)) return bare;
  if (bare.includes('%')) return null;
  let host: string;
  try {
    host = new URL(`http://${isIPv6Like(bare) ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return null;
  }
  if (isIPv4(host)) return host;
  if (host.startsWith('[')) return host.slice(1, -1);
  return null;
}

const isIPv6Like = (s: string) => s.includes(':');

/**
 * The forbidden range an IP literal falls in, or null for a public unicast address.
 * @throws TypeError when `ip` is not an IP literal in any spelling.
 */
export function classifyAddress(ip: string): ForbiddenRange | null {
  const canonical = canonicalIp(ip);
  if (canonical === null) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  return isIPv4(canonical) ? classifyV4(ipv4ToInt(canonical)) : classifyV6(ipv6ToBytes(canonical));
}

/** True when `ip` (any spelling) is loopback, private, link-local, CGNAT, multicast, reserved, … */
export function isForbiddenAddress(ip: string): boolean {
  return classifyAddress(ip) !== null;
}
