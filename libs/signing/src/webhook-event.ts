/**
 * The JSON body of every Tidings webhook: the event envelope at the version the subscription renders
 * (docs/events.md lists each type's `data`). Declared here as well as in libs/events (`EventEnvelope`)
 * because this package installs on its own, with no dependencies; webhook-event.spec.ts fails to compile
 * if the two ever differ.
 */
export interface WebhookEvent<D = unknown> {
  /** UUIDv7; also the `webhook-id` header and the dedupe key. */
  eventId: string;
  eventType: string;
  version: number;
  /** ISO 8601, UTC. */
  timestamp: string;
  source: string;
  tenantId: string;
  resourceType: string;
  resourceId: string;
  /** The resource's version after this event: 1, 2, 3… (per-resource order). */
  sequence: number;
  /** The tenant's dense order (1, 2, 3… per tenant) assigned by the outbox relay; always set on a delivered event. */
  position: number | null;
  data: D;
}
