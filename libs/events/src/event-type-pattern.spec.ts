import { eventTypePatterns, isValidEventTypePattern, matchesEventType } from './event-type-pattern';

describe('matchesEventType', () => {
  it.each([
    ['*', 'order.created', true],
    ['*', 'webhook.subscription.disabled', true],
    ['order.*', 'order.created', true],
    ['order.*', 'order.payment_received', true],
    ['order.*', 'message.received', false],
    ['order.*', 'orders.created', false],
    ['order.*', 'order', false],
    ['webhook.*', 'webhook.subscription.disabled', true],
    ['webhook.*', 'webhook.test', true],
    ['webhook.subscription.*', 'webhook.subscription.disabled', true],
    ['webhook.subscription.*', 'webhook.delivery.exhausted', false],
    ['order.created', 'order.created', true],
    ['order.created', 'order.created_extra', false],
    ['order.created', 'order.updated', false],
    ['order', 'order.created', false],
    ['order*', 'order.created', false],
  ])('%s matches %s: %p', (pattern, type, expected) => {
    expect(matchesEventType(pattern, type)).toBe(expected);
  });
});

describe('isValidEventTypePattern', () => {
  it.each(['*', 'order.*', 'order.created', 'webhook.*', 'webhook.subscription.*', 'api_key.*'])(
    'accepts %s',
    (pattern) => {
      expect(isValidEventTypePattern(pattern)).toBe(true);
    },
  );

  it.each([
    '',
    ' ',
    'order.',
    'ORDER.*',
    'order.*.*',
    '*.created',
    'nothing.*',
    'order.teleported',
    '**',
    'order*',
  ])('rejects %p (malformed or matches no catalogue type)', (pattern) => {
    expect(isValidEventTypePattern(pattern)).toBe(false);
  });
});

describe('eventTypePatterns', () => {
  it('lists exactly the valid patterns: each one is valid, and every valid example is listed', () => {
    const patterns = eventTypePatterns();
    expect(patterns.filter((p) => !isValidEventTypePattern(p))).toEqual([]);
    expect(patterns).toEqual(
      expect.arrayContaining(['*', 'order.*', 'order.created', 'webhook.*', 'webhook.subscription.*']),
    );
    expect(new Set(patterns).size).toBe(patterns.length);
  });
});
