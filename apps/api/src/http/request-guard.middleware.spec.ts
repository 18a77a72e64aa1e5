import type { NextFunction, Request, Response } from 'express';
import { RequestGuardMiddleware } from './request-guard.middleware';

function setup() {
  const sut = new RequestGuardMiddleware();
  const run = (body: unknown, opts: { url?: string; query?: Record<string, unknown> } = {}) => {
    const req = {
      method: 'POST',
      headers: { 'content-length': '2', 'content-type': 'application/json' },
      is: (types: string[]) => (types.includes('application/json') ? 'application/json' : false),
      body,
      query: opts.query ?? {},
      originalUrl: opts.url ?? '/orders',
    } as unknown as Request;
    const next = jest.fn() as unknown as NextFunction & jest.Mock;
    sut.use(req, {} as Response, next);
    return next;
  };
  return { sut, run };
}

describe('RequestGuardMiddleware', () => {
  it('lets ordinary Unicode through, surrogate pairs included', () => {
    const { run } = setup();
    expect(run({ notes: 'café 🚀', items: [{ sku: '漢字' }] })).toHaveBeenCalled();
  });

  it.each([
    ['a NUL byte', { notes: 'a\u0000b' }, 'notes'],
    ['a lone high surrogate', { items: [{ sku: 'x\uD800' }] }, 'items[0].sku'],
    ['a lone low surrogate', { notes: '\uDC00' }, 'notes'],
    ['a NUL byte in a key', { metadata: { 'a\u0000': 'b' } }, 'metadata.a\u0000'],
  ])('rejects %s with a 400 naming the field', (_name, body, field) => {
    const { run } = setup();
    expect(() => run(body)).toThrow(
      expect.objectContaining({
        status: 400,
        extra: { errors: [expect.objectContaining({ field }) as unknown] },
      }) as Error,
    );
  });

  it('gives JSON nested deeper than 32 levels its own message', () => {
    const { run } = setup();
    const deep = JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) as unknown;
    expect(() => run(deep)).toThrow(
      expect.objectContaining({ status: 400, detail: 'JSON may be nested at most 32 levels deep' }) as Error,
    );
    const { run: again } = setup();
    expect(again(JSON.parse(`${'{"a":'.repeat(30)}1${'}'.repeat(30)}`))).toHaveBeenCalled();
  });

  it.each(['__proto__', 'constructor'])('refuses a %s key as an unknown field', (key) => {
    const { run } = setup();
    expect(() => run(JSON.parse(`{"items":[{"${key}":{}}]}`))).toThrow(
      expect.objectContaining({
        status: 400,
        extra: { errors: [{ field: `items[0].${key}`, message: `property ${key} should not exist` }] },
      }) as Error,
    );
  });

  it('checks the query string and the path too', () => {
    const { run } = setup();
    expect(() => run({}, { query: { customerId: 'a\u0000' } })).toThrow(
      expect.objectContaining({ status: 400 }) as Error,
    );
    expect(() => run({}, { url: '/orders/ord_%00/pay?x=1' })).toThrow(
      expect.objectContaining({ status: 400 }) as Error,
    );
  });
});
