import { generateSecret, InvalidSecretError, parseSecret } from './secret';

describe('generateSecret', () => {
  it('makes whsec_ + base64 secrets of 32 random bytes by default', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(parseSecret(secret)).toHaveLength(32);
    expect(generateSecret()).not.toBe(generateSecret());
  });

  it.each([24, 48, 64])('makes %d-byte secrets on request', (bytes) => {
    expect(parseSecret(generateSecret(bytes))).toHaveLength(bytes);
  });

  it.each([0, 23, 65, 32.5, Number.NaN])('refuses %p bytes with a RangeError', (bytes) => {
    expect(() => generateSecret(bytes)).toThrow(RangeError);
  });
});

describe('parseSecret', () => {
  const key = Buffer.from(Array.from({ length: 24 }, (_, i) => i));

  it('returns the HMAC key of whsec_ secrets and of bare base64 (interop), padded or not', () => {
    const b64 = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
    expect(parseSecret(`whsec_${key.toString('base64')}`)).toEqual(key);
    expect(parseSecret(key.toString('base64'))).toEqual(key);
    expect(parseSecret(`whsec_${b64}`)).toHaveLength(32);
    expect(parseSecret(`whsec_${b64.replace(/=+$/, '')}`)).toHaveLength(32);
  });

  it.each([
    ['', 'empty'],
    ['whsec_', 'empty'],
    ['whsec_not base64!', 'not base64'],
    ['whsec_abc-_def', 'not base64'],
    [`whsec_ ${Buffer.alloc(24).toString('base64')}`, 'not base64'],
    ['whsec_AAAAA', 'not base64'],
    ['whsec_AA=A', 'not base64'],
    ['whsec_AAAAAA=', 'not base64'],
    [`whsec_${Buffer.alloc(8).toString('base64')}`, 'key is 8 bytes; expected 16–128'],
    [`whsec_${Buffer.alloc(129).toString('base64')}`, 'key is 129 bytes; expected 16–128'],
  ])('rejects %p (%s)', (secret, reason) => {
    expect(() => parseSecret(secret)).toThrow(new InvalidSecretError(reason));
  });
});
