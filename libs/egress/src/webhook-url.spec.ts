import { parseConfig } from '@tidings/runtime';
import { classifyAddress, isForbiddenAddress } from './address';
import { egressConfigSchema } from './egress.config';
import { IPV6_OUTSIDE_GLOBAL_UNICAST_URLS } from '../../../test/fixtures/ssrf-ipv6';
import { normaliseHosts, parseWebhookUrl, WebhookUrlError } from './webhook-url';

function reasonOf(url: string, options = {}): string | undefined {
  try {
    parseWebhookUrl(url, options);
    return undefined;
  } catch (error) {
    if (error instanceof WebhookUrlError) return error.reason;
    throw error;
  }
}

describe('parseWebhookUrl', () => {
  it('accepts a public https URL and returns it parsed', () => {
    const url = parseWebhookUrl('https://hooks.example.com:8443/tidings?x=1');
    expect(url.hostname).toBe('hooks.example.com');
    expect(url.port).toBe('8443');
  });

  it('accepts public IP literals', () => {
    expect(parseWebhookUrl('https://8.8.8.8/').hostname).toBe('8.8.8.8');
    expect(parseWebhookUrl('https://[2606:4700:4700::1111]/').hostname).toBe('[2606:4700:4700::1111]');
  });

  it.each([
    ['not a url', 'invalid_url'],
    ['/relative/path', 'invalid_url'],
    ['ftp://example.com/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['http://example.com/', 'https_required'],
    ['https://user:pass@example.com/', 'credentials_not_allowed'],
    ['https://user@example.com/', 'credentials_not_allowed'],
    ['https://example.com/#frag', 'fragment_not_allowed'],
    ['https://example.com/#', 'fragment_not_allowed'],
    [`https://example.com/${'a'.repeat(2048)}`, 'too_long'],
  ])('rejects %s with reason %s', (url, reason) => {
    expect(reasonOf(url)).toBe(reason);
  });

  it('accepts http only when allowHttp is set', () => {
    expect(reasonOf('http://example.com/', { allowHttp: true })).toBeUndefined();
  });

  it.each([
    // loopback in every spelling the URL parser accepts
    ['127.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0x7F.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['[::1]', 'loopback'],
    ['[0:0:0:0:0:0:0:1]', 'loopback'],
    // IPv4 embedded in IPv6 (mapped ::ffff:0:0/96, translated ::ffff:0:0:0/96, compatible ::/96): outside
    // global unicast, so refused whatever they embed; named after the embedded address when it is forbidden
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['[::ffff:169.254.169.254]', 'link-local'],
    ['[::ffff:8.8.8.8]', 'ipv4-mapped'],
    ['[::ffff:0:127.0.0.1]', 'loopback'],
    ['[::ffff:0:7f00:1]', 'loopback'],
    ['[0:0:0:0:ffff:0:127.0.0.1]', 'loopback'],
    ['[::ffff:0:169.254.169.254]', 'link-local'],
    ['[::ffff:0:10.0.0.1]', 'private'],
    ['[::ffff:0:8.8.8.8]', 'ipv4-translated'],
    ['[::127.0.0.1]', 'loopback'],
    ['[::7f00:1]', 'loopback'],
    ['[::8.8.8.8]', 'ipv4-compatible'],
    // private, link-local (cloud metadata), CGNAT
    ['10.0.0.1', 'private'],
    ['012.0.0.1', 'private'],
    ['167772161', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['0xc0.0xa8.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0xa9fea9fe', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    // unspecified, this-network, broadcast, reserved, multicast, benchmarking, documentation
    ['0.0.0.0', 'unspecified'],
    ['0', 'unspecified'],
    ['0.1.2.3', 'this-network'],
    ['255.255.255.255', 'broadcast'],
    ['4294967295', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['192.0.0.8', 'ietf-protocol'],
    ['192.88.99.1', '6to4-relay'],
    // IPv6 non-unicast and translation ranges
    ['[::]', 'unspecified'],
    ['[fe80::1]', 'link-local'],
    ['[febf::1]', 'link-local'],
    ['[fc00::1]', 'unique-local'],
    ['[fd12:3456::1]', 'unique-local'],
    ['[fec0::1]', 'site-local'],
    ['[ff02::1]', 'multicast'],
    ['[2001:db8::1]', 'documentation'],
    ['[3fff::1]', 'documentation'],
    ['[64:ff9b::10.0.0.1]', 'private'],
    ['[64:ff9b::7f00:1]', 'loopback'],
    ['[64:ff9b::808:808]', 'nat64'],
    ['[64:ff9b:1::1]', 'nat64'],
    ['[2002:a00:1::]', '6to4'],
    ['[2002:7f00:0001::1]', '6to4'],
    ['[2002:c0a8:0101::]', '6to4'],
    ['[2001::1]', 'teredo'],
    ['[2001:2::1]', 'benchmarking'],
    ['[2001:10::1]', 'ietf-protocol'],
    ['[2001:1::4]', 'ietf-protocol'],
    ['[2001:1ff::1]', 'ietf-protocol'],
    ['[100::1]', 'discard-only'],
    // everything else outside global unicast 2000::/3 (IPv6 is an allow-list, not a list of bad ranges)
    ['[::1:0:0:1]', 'reserved'],
    ['[::2]', 'this-network'],
    ['[1::]', 'reserved'],
    ['[1::1]', 'reserved'],
    ['[100:0:0:1::1]', 'reserved'],
    ['[1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]', 'reserved'],
    ['[4000::1]', 'reserved'],
    ['[5f00::1]', 'reserved'],
    ['[8000::1]', 'reserved'],
    ['[e000::1]', 'reserved'],
    ['[fbff::1]', 'reserved'],
    ['[fe7f::1]', 'reserved'],
  ])('rejects the IP literal %s as %s', (host, range) => {
    let error: unknown;
    try {
      parseWebhookUrl(`https://${host}/hook`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WebhookUrlError);
    expect((error as WebhookUrlError).reason).toBe('forbidden_address');
    expect((error as WebhookUrlError).range).toBe(range);
  });

  it('allows 6to4 addresses that embed a public IPv4 address', () => {
    expect(reasonOf('https://[2002:808:808::1]/')).toBeUndefined();
  });

  it('accepts global unicast IPv6 up to the edges of 2000::/3, and the globally reachable special blocks', () => {
    for (const host of [
      '2000::1',
      '2001:200::1',
      '2001:db7:ffff::1',
      '2001:db9::1',
      '2003::1',
      '2620:4f:8000::1',
      '3ffe:ffff::1',
      '3fff:1000::1',
      '3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      '2001:1::1',
      '2001:1::2',
      '2001:1::3',
      '2001:3::1',
      '2001:4:112::1',
      '2001:20::1',
      '2001:30::1',
    ])
      expect([host, reasonOf(`https://[${host}]/`)]).toEqual([host, undefined]);
  });

  it('refuses the SSRF sweep spellings in http URLs with ports and paths too', () => {
    for (const url of IPV6_OUTSIDE_GLOBAL_UNICAST_URLS)
      expect([url, reasonOf(url, { allowHttp: true })]).toEqual([url, 'forbidden_address']);
  });

  it('lets allowlisted hosts through, in any spelling of the allowlisted address', () => {
    const allowedHosts = normaliseHosts('127.0.0.1, localhost ,[::1]');
    expect(reasonOf('http://127.0.0.1:8080/', { allowHttp: true, allowedHosts })).toBeUndefined();
    expect(reasonOf('http://127.1:8080/', { allowHttp: true, allowedHosts })).toBeUndefined();
    expect(reasonOf('http://[0::1]:8080/', { allowHttp: true, allowedHosts })).toBeUndefined();
    expect(reasonOf('http://LOCALHOST:8080/', { allowHttp: true, allowedHosts })).toBeUndefined();
    expect(reasonOf('http://10.0.0.1/', { allowHttp: true, allowedHosts })).toBe('forbidden_address');
  });

  it('accepts names: what they resolve to is checked at connect time', () => {
    expect(reasonOf('https://hooks.example.com/')).toBeUndefined();
  });

  it('refuses localhost names (always loopback, RFC 6761) unless allowlisted', () => {
    expect(reasonOf('https://localhost/')).toBe('forbidden_address');
    expect(reasonOf('https://api.LOCALHOST./')).toBe('forbidden_address');
    expect(
      reasonOf('https://api.localhost/', { allowedHosts: normaliseHosts('api.localhost') }),
    ).toBeUndefined();
  });
});

describe('classifyAddress', () => {
  it('classifies canonical and alternative spellings alike', () => {
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('127.1')).toBe('loopback');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::ffff:0:7f00:1')).toBe('loopback');
    expect(classifyAddress('[::1]')).toBe('loopback');
    expect(classifyAddress('93.184.216.34')).toBeNull();
    expect(classifyAddress('2a00:1450:4001:82a::200e')).toBeNull();
  });

  it('draws range boundaries exactly', () => {
    expect(isForbiddenAddress('172.15.255.255')).toBe(false);
    expect(isForbiddenAddress('172.32.0.0')).toBe(false);
    expect(isForbiddenAddress('100.63.255.255')).toBe(false);
    expect(isForbiddenAddress('100.128.0.0')).toBe(false);
    expect(isForbiddenAddress('169.253.255.255')).toBe(false);
    expect(isForbiddenAddress('223.255.255.255')).toBe(false);
    expect(isForbiddenAddress('11.0.0.0')).toBe(false);
    expect(isForbiddenAddress('1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(isForbiddenAddress('2000::')).toBe(false);
    expect(isForbiddenAddress('3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(isForbiddenAddress('3fff:1000::')).toBe(false);
    expect(isForbiddenAddress('4000::')).toBe(true);
    expect(isForbiddenAddress('2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(isForbiddenAddress('2001:200::')).toBe(false);
  });

  it('throws on something that is not an IP address', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError);
    expect(() => classifyAddress('1.2.3.4.5')).toThrow(TypeError);
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('is empty by default and normalises every spelling of a listed host', () => {
    expect(parseConfig(egressConfigSchema, {}).WEBHOOK_ALLOWED_HOSTS).toEqual(new Set());
    const hosts = parseConfig(egressConfigSchema, { WEBHOOK_ALLOWED_HOSTS: ' 127.1, LOCALHOST ,[0::1],::1' });
    expect(hosts.WEBHOOK_ALLOWED_HOSTS).toEqual(new Set(['127.0.0.1', 'localhost', '::1']));
  });

  it.each(['http://127.0.0.1', '127.0.0.1:8080', 'localhost/x', 'user@localhost', 'a b'])(
    'stops boot naming the variable for the entry %s',
    (entry) => {
      expect(() => parseConfig(egressConfigSchema, { WEBHOOK_ALLOWED_HOSTS: `localhost,${entry}` })).toThrow(
        /WEBHOOK_ALLOWED_HOSTS/,
      );
    },
  );
});
