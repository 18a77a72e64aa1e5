import { buildEvent, type EventEnvelope } from '@tidings/events';
import type { WebhookEvent } from './webhook-event';

// Compile-time: each type is assignable to the other, for any data type (tsc runs on specs in `npm run check`).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<WebhookEvent<{ n: number }>, EventEnvelope<{ n: number }>> = true;
const sameUnknown: Same<WebhookEvent, EventEnvelope> = true;

describe('WebhookEvent', () => {
  it('is the envelope libs/events builds: same fields, same types', () => {
    const envelope: EventEnvelope = buildEvent({
      eventType: 'webhook.test',
      tenantId: 'ten_1',
      resourceId: 'whk_1',
      sequence: 1,
      source: 'tidings/test',
      data: { subscriptionId: 'whk_1', message: 'hi' },
    });
    const event: WebhookEvent = envelope;
    expect(Object.keys(event).sort()).toEqual(
      [
        'eventId',
        'eventType',
        'version',
        'timestamp',
        'source',
        'tenantId',
        'resourceType',
        'resourceId',
        'sequence',
        'position',
        'data',
      ].sort(),
    );
    expect([same, sameUnknown]).toEqual([true, true]);
  });
});
