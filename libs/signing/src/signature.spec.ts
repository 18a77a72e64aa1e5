import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import vectors from '../../../test/fixtures/signing-vectors.json';
import { generateSecret, InvalidSecretError, parseSecret } from './secret';
import { signPayload, verifyPayload, WebhookVerificationError } from './signature';

const now = () => Math.floor(Date.now() / 1000);

function setup(body = '{"eventType":"order.created","data":{"orderId":"ord_1"}}') {
  const secret = generateSecret();
  const id = '0193a4e2-7b1c-7d4e-8f00-123456789abc';
  const timestamp = now();
  return { secret, id, timestamp, body, headers: signPayload({ id, timestamp, body, secrets: [secret] }) };
}

function kindOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof WebhookVerificationError ? error.kind : String(error);
  }
}

describe('secrets', () => {
  it('generates whsec_ secrets of 24–64 random bytes', () => {
    expect(parseSecret(generateSecret())).toHaveLength(32);
    expect(parseSecret(generateSecret(24))).toHaveLength(24);
    expect(parseSecret(generateSecret(64))).toHaveLength(64);
    expect(generateSecret()).not.toBe(generateSecret());
    expect(() => generateSecret(23)).toThrow(RangeError);
    expect(() => generateSecret(65)).toThrow(RangeError);
  });

  it('rejects malformed secrets', () => {
    for (const bad of [
      '',
      'whsec_',
      'whsec_not base64!',
      'whsec_abc',
      `whsec_${Buffer.alloc(8).toString('base64')}`,
    ]) {
      expect(() => parseSecret(bad)).toThrow(InvalidSecretError);
    }
  });
});

describe('signPayload / verifyPayload', () => {
  it('matches the published test vector', () => {
    for (const v of vectors.vectors) {
      expect(
        signPayload({ id: v.id, timestamp: v.timestamp, body: v.body, secrets: [v.secret] })[
          'webhook-signature'
        ],
      ).toBe(v.signature);
      expect(
        verifyPayload({
          body: v.body,
          headers: {
            'webhook-id': v.id,
            'webhook-timestamp': String(v.timestamp),
            'webhook-signature': v.signature,
          },
          secrets: [v.secret],
          now: v.timestamp,
        }),
      ).toEqual({ id: v.id, timestamp: v.timestamp });
    }
  });

  it('verifies its own signature over the raw body', () => {
    const { secret, body, headers, id } = setup();
    expect(verifyPayload({ body, headers, secrets: [secret] }).id).toBe(id);
    expect(verifyPayload({ body: Buffer.from(body), headers, secrets: [secret] }).id).toBe(id);
  });

  it('rejects a tampered body, a wrong secret and missing headers with precise kinds', () => {
    const { secret, body, headers } = setup();
    expect(kindOf(() => verifyPayload({ body: body + ' ', headers, secrets: [secret] }))).toBe(
      'invalid_signature',
    );
    expect(kindOf(() => verifyPayload({ body, headers, secrets: [generateSecret()] }))).toBe(
      'invalid_signature',
    );
    expect(
      kindOf(() =>
        verifyPayload({ body, headers: { ...headers, 'webhook-signature': undefined }, secrets: [secret] }),
      ),
    ).toBe('missing_header');
    expect(
      kindOf(() =>
        verifyPayload({ body, headers: { ...headers, 'webhook-timestamp': 'yesterday' }, secrets: [secret] }),
      ),
    ).toBe('malformed_header');
    expect(
      kindOf(() =>
        verifyPayload({ body, headers: { ...headers, 'webhook-signature': 'v2,abc' }, secrets: [secret] }),
      ),
    ).toBe('malformed_header');
  });

  it('enforces the timestamp tolerance both ways', () => {
    const secret = generateSecret();
    const body = '{}';
    const old = signPayload({ id: 'msg_1', timestamp: now() - 301, body, secrets: [secret] });
    const future = signPayload({ id: 'msg_1', timestamp: now() + 301, body, secrets: [secret] });
    expect(kindOf(() => verifyPayload({ body, headers: { ...old }, secrets: [secret] }))).toBe(
      'timestamp_too_old',
    );
    expect(kindOf(() => verifyPayload({ body, headers: { ...future }, secrets: [secret] }))).toBe(
      'timestamp_too_new',
    );
    expect(verifyPayload({ body, headers: { ...old }, secrets: [secret], toleranceSeconds: 600 }).id).toBe(
      'msg_1',
    );
  });

  it('signs with every secret during rotation; either secret verifies', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const body = '{"a":1}';
    const headers = signPayload({ id: 'msg_2', timestamp: now(), body, secrets: [newSecret, oldSecret] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyPayload({ body, headers: { ...headers }, secrets: [oldSecret] }).id).toBe('msg_2');
    expect(verifyPayload({ body, headers: { ...headers }, secrets: [newSecret] }).id).toBe('msg_2');
  });
});

describe('interoperability with the official libraries', () => {
  it('our signatures verify with standardwebhooks and svix', () => {
    const { secret, body, headers } = setup();
    expect(new StandardWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('their signatures verify with ours, including multi-signature headers', () => {
    const secret = generateSecret();
    const other = generateSecret();
    const body = '{"type":"ping"}';
    const id = 'msg_abc';
    const ts = new Date();
    const signature = new StandardWebhook(secret).sign(id, ts, body);
    const unix = Math.floor(ts.getTime() / 1000);
    const theirs = new StandardWebhook(other).sign(id, ts, body);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(unix),
      'webhook-signature': `${theirs} ${signature}`,
    };
    expect(verifyPayload({ body, headers, secrets: [secret] })).toEqual({ id, timestamp: unix });
    const svixSig = new SvixWebhook(secret).sign(id, ts, body);
    expect(
      verifyPayload({ body, headers: { ...headers, 'webhook-signature': svixSig }, secrets: [secret] }).id,
    ).toBe(id);
  });

  it('the official library rejects what we reject: tampered body and stale timestamp', () => {
    const { secret, body, headers } = setup();
    expect(() => new StandardWebhook(secret).verify(body + 'x', { ...headers })).toThrow();
    const stale = signPayload({ id: 'x', timestamp: now() - 600, body, secrets: [secret] });
    expect(() => new StandardWebhook(secret).verify(body, { ...stale })).toThrow();
  });
});
