import { z } from 'zod';
import { ConfigError, addressList, parseConfig } from './runtime.config';
import { bearerToken, clientAddress, parseAddressList } from './request-headers';

describe('bearerToken', () => {
  it.each(['Bearer tdk_abc', 'bearer tdk_abc', 'BEARER tdk_abc', 'Bearer   tdk_abc'])(
    'reads %s',
    (header) => {
      expect(bearerToken(header)).toBe('tdk_abc');
    },
  );

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic tdk_abc',
    'Bearertdk_abc',
    'Bearer a b',
    'Bearer a\u0000',
  ])('finds no token in %p', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
});

describe('clientAddress', () => {
  const trusted = parseAddressList('10.0.0.0/8, ::1').addresses;

  it('is the peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress('10.1.2.3', '198.51.100.7', parseAddressList('').addresses)).toBe('10.1.2.3');
  });

  it('is the peer when the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.7', trusted)).toBe('203.0.113.9');
  });

  it('is the nearest untrusted hop behind trusted proxies', () => {
    expect(clientAddress('10.0.0.1', '198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:10.0.0.1', '198.51.100.7, 10.0.0.2', trusted)).toBe('198.51.100.7');
    expect(clientAddress('::1', ['1.1.1.1, 198.51.100.7', '10.9.9.9'], trusted)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', '[2001:db8::1]:443', trusted)).toBe('2001:db8::1');
    expect(clientAddress('10.0.0.1', '198.51.100.7:5000', trusted)).toBe('198.51.100.7');
  });

  it('stops at a hop that is not an address: the proxy that passed it on is the nearest known', () => {
    expect(clientAddress('10.0.0.1', '198.51.100.7, garbage, 10.0.0.2', trusted)).toBe('10.0.0.2');
  });

  it('is the peer without X-Forwarded-For, or when every hop is a trusted proxy, the farthest one', () => {
    expect(clientAddress('10.0.0.1', undefined, trusted)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', '10.0.0.3, 10.0.0.2', trusted)).toBe('10.0.0.3');
  });
});

describe('addressList', () => {
  const schema = z.object({ SSE_TRUSTED_PROXIES: addressList() });

  it('parses addresses and CIDR ranges of both families', () => {
    const list = parseConfig(schema, { SSE_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1 ,fd00::/8,::1' });
    expect(list.SSE_TRUSTED_PROXIES.check('10.200.0.1')).toBe(true);
    expect(list.SSE_TRUSTED_PROXIES.check('192.168.1.1')).toBe(true);
    expect(list.SSE_TRUSTED_PROXIES.check('fd12::1', 'ipv6')).toBe(true);
    expect(list.SSE_TRUSTED_PROXIES.check('11.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/8', '::1/129', '10.0.0.0/x'])(
    'stops boot naming the variable and the entry for %s',
    (entry) => {
      expect(() => parseConfig(schema, { SSE_TRUSTED_PROXIES: `10.0.0.1, ${entry}` })).toThrow(ConfigError);
      expect(() => parseConfig(schema, { SSE_TRUSTED_PROXIES: `10.0.0.1, ${entry}` })).toThrow(
        `SSE_TRUSTED_PROXIES: not an IP address or CIDR range: ${entry}`,
      );
    },
  );
});
