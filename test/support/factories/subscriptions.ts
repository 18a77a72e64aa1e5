import { appendEvent, transaction } from '@tidings/db';
import { buildEvent } from '@tidings/events';
import { generateSecret } from '@tidings/signing';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { eventually } from '../eventually';

export interface SubscriptionSeed {
  tenantId: string;
  url: string;
  /** `order.*` by default. */
  eventTypes?: string[];
  versionPins?: Record<string, number>;
  strictOrdering?: boolean;
}

/**
 * An active webhook subscription written as the api writes it: its row and its `webhook.subscription.created`
 * (sequence 1) in one transaction, with a new signing secret. The creation event is unpositioned until a relay
 * runs, and the subscription matches only events positioned after it (`creationPositioned`).
 */
export async function insertSubscription(
  ds: DataSource,
  spec: SubscriptionSeed,
): Promise<{ id: string; secret: string }> {
  const id = `whk_${randomUUID()}`;
  const secret = generateSecret();
  const eventTypes = spec.eventTypes ?? ['order.*'];
  const versionPins = spec.versionPins ?? {};
  const strictOrdering = spec.strictOrdering ?? false;
  await transaction(ds, async (tx) => {
    await tx.query(
      `INSERT INTO webhook_subscriptions (id, tenant_id, url, event_types, description, metadata, version_pins,
                                          strict_ordering, status, secrets, version)
       VALUES ($1, $2, $3, $4, NULL, '{}', $5, $6, 'active', $7, 1)`,
      [
        id,
        spec.tenantId,
        spec.url,
        eventTypes,
        JSON.stringify(versionPins),
        strictOrdering,
        JSON.stringify([{ secret, expiresAt: null }]),
      ],
    );
    await appendEvent(
      tx,
      buildEvent({
        eventType: 'webhook.subscription.created',
        tenantId: spec.tenantId,
        resourceId: id,
        sequence: 1,
        source: 'tidings/api',
        data: {
          subscriptionId: id,
          url: spec.url,
          eventTypes,
          description: null,
          metadata: {},
          versionPins,
          status: 'active',
          strictOrdering,
          maxInFlight: null,
        },
      }),
    );
  });
  return { id, secret };
}

/** Waits until a running relay has positioned the subscription's creation event: from then on it matches. */
export async function creationPositioned(ds: DataSource, subscriptionId: string): Promise<void> {
  await eventually(async () => {
    const [row] = await ds.query<{ position: string | null }[]>(
      `SELECT position FROM event_log WHERE resource_id = $1 AND sequence = 1`,
      [subscriptionId],
    );
    expect(row?.position).not.toBeNull();
  });
}
