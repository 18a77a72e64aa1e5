import type { LookupAddress } from 'node:dns';
import * as dns from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { checkPeer, ForbiddenAddressError, guardedConnector, guardedLookup } from './guard';
import { normaliseHosts } from './webhook-url';

/** A resolver answering from a fixed table, standing in for DNS (including a rebinding one). */
function fakeResolver(answers: (hostname: string, call: number) => LookupAddress[]): typeof dns.lookup {
  let calls = 0;
  const resolve = (
    hostname: string,
    _options: unknown,
    callback: (e: Error | null, a: LookupAddress[]) => void,
  ) => callback(null, answers(hostname, calls++));
  return resolve as unknown as typeof dns.lookup;
}

function lookupOnce(
  lookup: ReturnType<typeof guardedLookup>,
  hostname: string,
  all: boolean,
): Promise<{ error: Error | null; address: unknown; family?: number }> {
  return new Promise((resolve) =>
    lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family })),
  );
}

describe('guardedLookup', () => {
  it('refuses a name when any resolved address is forbidden, not only the first', async () => {
    const lookup = guardedLookup({
      resolve: fakeResolver(() => [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.5', family: 4 },
      ]),
    });
    const { error } = await lookupOnce(lookup, 'mixed.example', true);
    expect(error).toBeInstanceOf(ForbiddenAddressError);
    expect((error as ForbiddenAddressError).range).toBe('private');
    expect((error as ForbiddenAddressError).address).toBe('10.0.0.5');
  });

  it('answers public names in the shape Node asked for', async () => {
    const lookup = guardedLookup({ resolve: fakeResolver(() => [{ address: '93.184.216.34', family: 4 }]) });
    expect(await lookupOnce(lookup, 'public.example', false)).toEqual({
      error: null,
      address: '93.184.216.34',
      family: 4,
    });
    expect((await lookupOnce(lookup, 'public.example', true)).address).toEqual([
      { address: '93.184.216.34', family: 4 },
    ]);
  });

  it('refuses names resolving to IPv4-mapped or link-local IPv6 addresses', async () => {
    const lookup = guardedLookup({
      resolve: fakeResolver(() => [{ address: '::ffff:169.254.169.254', family: 6 }]),
    });
    expect((await lookupOnce(lookup, 'meta.example', false)).error).toBeInstanceOf(ForbiddenAddressError);
  });

  it('resolves allowlisted names without the check', async () => {
    const lookup = guardedLookup({
      allowedHosts: normaliseHosts('localhost'),
      resolve: fakeResolver(() => [{ address: '127.0.0.1', family: 4 }]),
    });
    expect(await lookupOnce(lookup, 'localhost', false)).toEqual({
      error: null,
      address: '127.0.0.1',
      family: 4,
    });
  });
});

describe('guardedConnector', () => {
  let server: Server;
  let port: number;

  let connections = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('reached'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function get(url: string, allowed: string): Promise<{ status?: number; error?: unknown }> {
    const agent = new Agent({
      connect: guardedConnector({ connectTimeoutMs: 2_000, allowedHosts: normaliseHosts(allowed) }),
    });
    try {
      const res = await request(url, { dispatcher: agent });
      await res.body.text();
      return { status: res.statusCode };
    } catch (error) {
      return { error };
    } finally {
      await agent.close();
    }
  }

  const causeOf = (error: unknown): unknown =>
    error instanceof ForbiddenAddressError ? error : (error as { cause?: unknown })?.cause;

  it('refuses a loopback IP literal before dialling', async () => {
    const { error } = await get(`http://127.0.0.1:${port}/`, '');
    expect(causeOf(error) ?? error).toBeInstanceOf(ForbiddenAddressError);
  });

  it('refuses every SSRF sweep spelling before dialling, with a forbidden_address reason', async () => {
    const before = connections;
    const hosts = [
      '127.0.0.1',
      '127.1',
      '0x7f000001',
      '2130706433',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:0:127.0.0.1]',
      '[::ffff:0:169.254.169.254]',
      '[::127.0.0.1]',
      '[64:ff9b::127.0.0.1]',
      '[2002:7f00:1::1]',
      '[::1:0:0:1]',
      '[1::]',
      '[4000::1]',
      '[e000::1]',
      '[fe80::1]',
      '[fc00::1]',
    ];
    for (const host of hosts) {
      const { error } = await get(`http://${host}:${port}/x`, '');
      const refused = causeOf(error) ?? error;
      expect([host, refused]).toEqual([host, expect.any(ForbiddenAddressError)]);
      expect((refused as Error).message).toMatch(/^forbidden_address: refused to connect to /);
    }
    expect(connections).toBe(before);
  });

  it('refuses a name that resolves to loopback (localhost) at connect time', async () => {
    const { error } = await get(`http://localhost:${port}/`, '127.0.0.1');
    expect(causeOf(error) ?? error).toBeInstanceOf(ForbiddenAddressError);
  });

  it('connects to an allowlisted host', async () => {
    expect(await get(`http://127.0.0.1:${port}/`, '127.0.0.1')).toEqual({ status: 200 });
  });

  it('refuses a name whose DNS answer is loopback even when a public-looking name is used', async () => {
    const connector = guardedConnector({
      connectTimeoutMs: 2_000,
      resolve: fakeResolver(() => [{ address: '127.0.0.1', family: 4 }]),
    });
    const refused = await new Promise<unknown>((resolve) =>
      connector(
        { hostname: 'rebind.example', host: `rebind.example:${port}`, protocol: 'http:', port: String(port) },
        (...args) => resolve(args[0]),
      ),
    );
    expect(refused).toBeInstanceOf(ForbiddenAddressError);
  });
});

describe('checkPeer', () => {
  it('refuses a socket connected to a forbidden address, in IPv6-mapped form too', () => {
    expect(checkPeer('rebind.example', '127.0.0.1')?.range).toBe('loopback');
    expect(checkPeer('rebind.example', '::ffff:10.1.2.3')?.range).toBe('private');
    expect(checkPeer('rebind.example', '::ffff:0:127.0.0.1')?.range).toBe('loopback');
    expect(checkPeer('rebind.example', '4000::1')?.range).toBe('reserved');
    expect(checkPeer('rebind.example', undefined)).toBeInstanceOf(ForbiddenAddressError);
  });

  it('accepts a socket connected to a public address', () => {
    expect(checkPeer('public.example', '93.184.216.34')).toBeNull();
  });
});
