import { classifyAddress, isForbiddenAddress } from './address';
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
    ['[::ffff:127.0.0.1]', 'ipv4-mapped'],
    ['[::ffff:7f00:1]', 'ipv4-mapped'],
    ['[::ffff:8.8.8.8]', 'ipv4-mapped'],
    ['[::127.0.0.1]', 'ipv4-compatible'],
    ['[::7f00:1]', 'ipv4-compatible'],
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
    ['[64:ff9b::10.0.0.1]', 'nat64'],
    ['[64:ff9b::7f00:1]', 'nat64'],
    ['[64:ff9b:1::1]', 'nat64'],
    ['[2002:a00:1::]', '6to4'],
    ['[2002:7f00:0001::1]', '6to4'],
    ['[2002:c0a8:0101::]', '6to4'],
    ['[2001::1]', 'teredo'],
    ['[2001:2::1]', 'ietf-protocol'],
    ['[100::1]', 'discard-only'],
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

  it('allows NAT64 and 6to4 addresses that embed a public IPv4 address', () => {
    expect(reasonOf('https://[64:ff9b::808:808]/')).toBeUndefined();
    expect(reasonOf('https://[2002:808:808::1]/')).toBeUndefined();
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
    expect(reasonOf('https://localhost/')).toBeUndefined();
  });
});

describe('classifyAddress', () => {
  it('classifies canonical and alternative spellings alike', () => {
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('127.1')).toBe('loopback');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('ipv4-mapped');
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
    expect(isForbiddenAddress('fbff::1')).toBe(false);
    expect(isForbiddenAddress('fe7f::1')).toBe(false);
  });

  it('throws on something that is not an IP address', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError);
    expect(() => classifyAddress('1.2.3.4.5')).toThrow(TypeError);
  });
});
