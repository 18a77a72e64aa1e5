import type { TestApi } from '../api-app';

/** A valid POST /orders body: one item of 1.00 EUR for cus_1; `overrides` replaces whole fields. */
export function orderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customerId: 'cus_1',
    currency: 'EUR',
    items: [{ sku: 'A', quantity: 1, unitPriceMinor: 100 }],
    ...overrides,
  };
}

/** A valid POST /messages body: a support message from alice; `overrides` replaces whole fields. */
export function messageBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { from: 'alice@example.com', channel: 'support', body: 'hi', ...overrides };
}

async function create(api: TestApi, path: string, key: string, body: Record<string, unknown>) {
  const res = await api.call('POST', path, key, body);
  if (res.status !== 201) throw new Error(`POST ${path} → ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown> & { id: string; version: number };
}

/** Places an order through the api (201 or it throws with the problem); returns the order as the api shows it. */
export function createOrder(api: TestApi, key: string, overrides: Record<string, unknown> = {}) {
  return create(api, '/orders', key, orderBody(overrides));
}

/** Records a received message through the api (201 or it throws); returns the message as the api shows it. */
export function createMessage(api: TestApi, key: string, overrides: Record<string, unknown> = {}) {
  return create(api, '/messages', key, messageBody(overrides));
}
