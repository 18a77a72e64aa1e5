import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import vectors from '../../../test/fixtures/signing-vectors.json';
import { generateSecret } from './secret';
import { signPayload, verifyPayload, WebhookVerificationError, type VerificationFailure } from './signature';

const NOW = 1_795_867_200;

function setup(body = '{"eventType":"order.created","data":{"orderId":"ord_1","note":"héllo"}}') {
  const secret = generateSecret();
  const id = '0193a4e2-7b1c-7d4e-8f00-123456789abc';
  const timestamp = Math.floor(Date.now() / 1000);
  return { secret, id, timestamp, body, headers: signPayload({ id, timestamp, body, secrets: [secret] }) };
}

function failureOf(fn: () => unknown): { kind: VerificationFailure; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error('verified without error');
}

describe('the published test vectors', () => {
  it.each(vectors.vectors.map((v) => [v.id, v] as const))('%s signs and verifies exactly', (_id, v) => {
    const headers = signPayload({ id: v.id, timestamp: v.timestamp, body: v.body, secrets: [v.secret] });
    expect(headers).toEqual({
      'webhook-id': v.id,
      'webhook-timestamp': String(v.timestamp),
      'webhook-signature': v.signature,
    });
    expect(verifyPayload({ body: v.body, headers, secrets: [v.secret], now: v.timestamp })).toEqual({
      id: v.id,
      timestamp: v.timestamp,
    });
  });

  it.each(vectors.vectors.map((v) => [v.id, v] as const))(
    '%s is reproduced by the independent standardwebhooks and svix implementations',
    (_id, v) => {
      const at = new Date(v.timestamp * 1000);
      expect(new StandardWebhook(v.secret).sign(v.id, at, v.body)).toBe(v.signature);
      expect(new SvixWebhook(v.secret).sign(v.id, at, v.body)).toBe(v.signature);
    },
  );
});

describe('signPayload', () => {
  it('signs "id.timestamp.body" with each secret, space-separated for rotation', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const one = signPayload({ id: 'msg_1', timestamp: NOW, body: '{}', secrets: [a] });
    const two = signPayload({ id: 'msg_1', timestamp: NOW, body: '{}', secrets: [a, b] });
    expect(one['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(two['webhook-signature'].split(' ')).toEqual([
      one['webhook-signature'],
      signPayload({ id: 'msg_1', timestamp: NOW, body: '{}', secrets: [b] })['webhook-signature'],
    ]);
  });

  it('refuses to sign without a secret or with a non-integer timestamp', () => {
    expect(() => signPayload({ id: 'm', timestamp: NOW, body: '{}', secrets: [] })).toThrow(
      'at least one secret',
    );
    expect(() =>
      signPayload({ id: 'm', timestamp: NOW + 0.5, body: '{}', secrets: [generateSecret()] }),
    ).toThrow('integer unix seconds');
  });
});

describe('verifyPayload', () => {
  it('verifies the raw body as a string or a Buffer and returns id and timestamp', () => {
    const { secret, body, headers, id, timestamp } = setup();
    expect(verifyPayload({ body, headers, secrets: [secret] })).toEqual({ id, timestamp });
    expect(verifyPayload({ body: Buffer.from(body), headers, secrets: [secret] }).id).toBe(id);
  });

  it('reads headers case-insensitively, as arrays, and under their svix-* names', () => {
    const { secret, body, headers, id } = setup();
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(verifyPayload({ body, headers: upper, secrets: [secret] }).id).toBe(id);
    const svix = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k.replace('webhook-', 'svix-'), v]),
    );
    expect(verifyPayload({ body, headers: svix, secrets: [secret] }).id).toBe(id);
  });

  it('rejects a tampered body and a wrong secret as invalid_signature', () => {
    const { secret, body, headers } = setup();
    expect(failureOf(() => verifyPayload({ body: `${body} `, headers, secrets: [secret] })).kind).toBe(
      'invalid_signature',
    );
    expect(failureOf(() => verifyPayload({ body, headers, secrets: [generateSecret()] })).kind).toBe(
      'invalid_signature',
    );
    expect(
      failureOf(() =>
        verifyPayload({ body, headers: { ...headers, 'webhook-id': 'other' }, secrets: [secret] }),
      ).kind,
    ).toBe('invalid_signature');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)(
    'rejects a request without %s as missing_header, naming it',
    (name) => {
      const { secret, body, headers } = setup();
      expect(
        failureOf(() =>
          verifyPayload({ body, headers: { ...headers, [name]: undefined }, secrets: [secret] }),
        ),
      ).toEqual({ kind: 'missing_header', message: `missing ${name} header` });
    },
  );

  it.each([
    ['webhook-timestamp', 'yesterday'],
    ['webhook-timestamp', '-5'],
    ['webhook-timestamp', '1795867200.5'],
    ['webhook-signature', 'v2,abc'],
    ['webhook-signature', 'abc'],
  ])('rejects %s = %p as malformed_header', (name, value) => {
    const { secret, body, headers } = setup();
    expect(
      failureOf(() => verifyPayload({ body, headers: { ...headers, [name]: value }, secrets: [secret] }))
        .kind,
    ).toBe('malformed_header');
  });

  it('enforces the timestamp tolerance both ways, 5 minutes by default and configurable', () => {
    const secret = generateSecret();
    const at = (offset: number) => ({
      ...signPayload({ id: 'm', timestamp: NOW + offset, body: '{}', secrets: [secret] }),
    });
    const verify = (offset: number, toleranceSeconds?: number) =>
      verifyPayload({ body: '{}', headers: at(offset), secrets: [secret], now: NOW, toleranceSeconds });
    expect(verify(-300).id).toBe('m');
    expect(verify(300).id).toBe('m');
    expect(failureOf(() => verify(-301)).kind).toBe('timestamp_too_old');
    expect(failureOf(() => verify(301)).kind).toBe('timestamp_too_new');
    expect(verify(-600, 600).id).toBe('m');
    expect(failureOf(() => verify(-61, 60)).kind).toBe('timestamp_too_old');
  });

  it('checks the timestamp before the signature, so a replayed old request is reported as too old', () => {
    const { secret, body, headers } = setup();
    expect(
      failureOf(() => verifyPayload({ body, headers, secrets: [secret], now: NOW + 10 ** 7 })).kind,
    ).toBe('timestamp_too_old');
  });

  it('accepts any one valid v1 signature among several and ignores other versions', () => {
    const { secret, body, headers } = setup();
    const foreign = signPayload({ ...setup(body), secrets: [generateSecret()] })['webhook-signature'];
    const mixed = `v1a,bm90LWVkMjU1MTk= ${foreign}  ${headers['webhook-signature']} v2,xyz`;
    expect(
      verifyPayload({ body, headers: { ...headers, 'webhook-signature': mixed }, secrets: [secret] }).id,
    ).toBe(headers['webhook-id']);
  });

  it('verifies during a rotation with either the old or the new secret', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const { body, id, timestamp } = setup();
    const headers = signPayload({ id, timestamp, body, secrets: [newSecret, oldSecret] });
    expect(verifyPayload({ body, headers, secrets: [oldSecret] }).id).toBe(id);
    expect(verifyPayload({ body, headers, secrets: [newSecret] }).id).toBe(id);
    expect(verifyPayload({ body, headers, secrets: [generateSecret(), newSecret] }).id).toBe(id);
    expect(failureOf(() => verifyPayload({ body, headers, secrets: [generateSecret()] })).kind).toBe(
      'invalid_signature',
    );
  });
});

describe('interoperability with the official libraries', () => {
  it('our signatures verify with standardwebhooks and svix (webhook-* and svix-* header names)', () => {
    const { secret, body, headers } = setup();
    expect(new StandardWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(
      new SvixWebhook(secret).verify(body, {
        'svix-id': headers['webhook-id'],
        'svix-timestamp': headers['webhook-timestamp'],
        'svix-signature': headers['webhook-signature'],
      }),
    ).toEqual(JSON.parse(body));
  });

  it('our rotation headers verify with the official libraries using either secret', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const { body, id, timestamp } = setup();
    const headers = { ...signPayload({ id, timestamp, body, secrets: [newSecret, oldSecret] }) };
    for (const secret of [oldSecret, newSecret]) {
      expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(new SvixWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
  });

  it('their signatures verify with ours, including multi-signature headers', () => {
    const [secret, other] = [generateSecret(), generateSecret()];
    const body = '{"type":"ping"}';
    const id = 'msg_abc';
    const at = new Date();
    const unix = Math.floor(at.getTime() / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(unix),
      'webhook-signature': `${new StandardWebhook(other).sign(id, at, body)} ${new StandardWebhook(secret).sign(id, at, body)}`,
    };
    expect(verifyPayload({ body, headers, secrets: [secret] })).toEqual({ id, timestamp: unix });
    const svixSignature = new SvixWebhook(secret).sign(id, at, body);
    expect(
      verifyPayload({ body, headers: { ...headers, 'webhook-signature': svixSignature }, secrets: [secret] })
        .id,
    ).toBe(id);
  });

  it('the official libraries reject what we reject: tampered body, wrong secret, stale and future timestamps', () => {
    const { secret, body, headers, id } = setup();
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      tampered: { body: `${body}x`, headers: { ...headers }, secret },
      wrongSecret: { body, headers: { ...headers }, secret: generateSecret() },
      stale: {
        body,
        headers: { ...signPayload({ id, timestamp: now - 600, body, secrets: [secret] }) },
        secret,
      },
      future: {
        body,
        headers: { ...signPayload({ id, timestamp: now + 600, body, secrets: [secret] }) },
        secret,
      },
    };
    for (const [name, c] of Object.entries(cases)) {
      const theirs = [StandardWebhook, SvixWebhook].map((W) => {
        try {
          new W(c.secret).verify(c.body, c.headers);
          return 'accepted';
        } catch {
          return 'rejected';
        }
      });
      const ours = (() => {
        try {
          verifyPayload({ body: c.body, headers: c.headers, secrets: [c.secret] });
          return 'accepted';
        } catch {
          return 'rejected';
        }
      })();
      expect({ name, theirs, ours }).toEqual({ name, theirs: ['rejected', 'rejected'], ours: 'rejected' });
    }
  });
});
