import type { EventEnvelope } from '@tidings/events';
import type { WebhookEvent } from './webhook-event';

// Compile-time: each type is assignable to the other, for any data type. `npm run check` type-checks specs, so
// a field added, removed or retyped on one side only fails CI there; the test below is its runtime face.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<WebhookEvent<{ n: number }>, EventEnvelope<{ n: number }>> = true;
const sameUnknown: Same<WebhookEvent, EventEnvelope> = true;

describe('WebhookEvent', () => {
  it("is libs/events' EventEnvelope: same fields, same types", () => {
    expect([same, sameUnknown]).toEqual([true, true]);
  });
});
