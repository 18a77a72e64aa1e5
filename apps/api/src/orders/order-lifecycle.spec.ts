import { allowedFrom, canApply, statusAfter } from './order-lifecycle';

describe('order lifecycle', () => {
  it.each([
    ['pay', 'pending', true],
    ['pay', 'paid', false],
    ['ship', 'paid', true],
    ['ship', 'pending', false],
    ['deliver', 'shipped', true],
    ['deliver', 'paid', false],
    ['cancel', 'pending', true],
    ['cancel', 'paid', true],
    ['cancel', 'shipped', false],
    ['update', 'delivered', false],
    ['update', 'cancelled', false],
  ] as const)('%s from %s: %p', (transition, status, expected) => {
    expect(canApply(transition, status)).toBe(expected);
  });

  it('moves each transition to its status and keeps final states final', () => {
    expect([statusAfter('pay'), statusAfter('ship'), statusAfter('deliver'), statusAfter('cancel')]).toEqual([
      'paid',
      'shipped',
      'delivered',
      'cancelled',
    ]);
    for (const t of ['pay', 'ship', 'deliver', 'cancel', 'update'] as const) {
      expect(allowedFrom(t)).not.toContain('delivered');
      expect(allowedFrom(t)).not.toContain('cancelled');
    }
  });
});
