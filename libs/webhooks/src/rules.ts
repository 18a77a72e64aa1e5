/**
 * The rules of the webhook lifecycle that are data or SQL fragments: which subscriptions get an event, the order
 * deliveries go out in, the retry schedule. The api (replay, recover, retry) and the dispatcher (recording,
 * claiming) both build their statements from these, so the two can never disagree.
 */

export interface RetryPolicy {
  /** Delay after the n-th failed attempt (index n-1); past the end the delivery is dead. */
  schedule: number[];
  jitter: number;
  retryAfterMaxMs: number;
}

/**
 * When the next attempt is due after `failedAttempts` failures, or null when the schedule is exhausted.
 * Jitter spreads retries by ±`jitter`; a `Retry-After` (429/503) moves the attempt later, never earlier than
 * the schedule, and is capped at `retryAfterMaxMs`.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  failedAttempts: number,
  retryAfterMs: number | null,
  now = Date.now(),
  random = Math.random,
): Date | null {
  const base = policy.schedule[failedAttempts - 1];
  if (base === undefined) return null;
  const scheduled = base * (1 + policy.jitter * (2 * random() - 1));
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, policy.retryAfterMaxMs);
  return new Date(now + Math.max(scheduled, asked));
}

/** Endpoint health thresholds (operator configuration). */
export interface HealthPolicy {
  /**
   * `webhook.subscription.failing` is sent once per streak, when a request SENT at least `failingWarningAfterMs`
   * after the streak's first failure also failed (and at least `failingWarningAt` failures in a row). Measured on
   * sends, the time bound is immune to the order in which concurrent answers happen to be read: an endpoint that
   * fails every other request never goes minutes without a success.
   */
  failingWarningAt: number;
  failingWarningAfterMs: number;
  /** Dead-lettered deliveries in a row (no success answered in between) at which the subscription is disabled. */
  disableAfterDeadLetters: number;
}

/** What a tenant's alert endpoint receives: the operational events of all its subscriptions. */
export const ALERT_EVENT_TYPES = [
  'webhook.subscription.failing',
  'webhook.subscription.disabled',
  'webhook.subscription.enabled',
  'webhook.delivery.exhausted',
] as const;

/**
 * Matching, part 1 — event type: the subscription `s` (a webhook_subscriptions alias) wants an event of type
 * `eventType` on resource `resourceId` (SQL expressions). Patterns are exact, `prefix.*` or `*`, like
 * `matchesEventType` in @tidings/events; `webhook.test` goes only to the subscription it names.
 */
export function matchesEventTypeSql(s: string, eventType: string, resourceId: string): string {
  return `CASE WHEN ${eventType} = 'webhook.test' THEN ${s}.id = ${resourceId}
               ELSE EXISTS (SELECT 1 FROM unnest(${s}.event_types) AS p(pattern)
                            WHERE p.pattern = '*' OR p.pattern = ${eventType}
                               OR (right(p.pattern, 2) = '.*' AND starts_with(${eventType}, left(p.pattern, -1))))
          END`;
}

/**
 * Matching, part 2 — time: joins `created`, the subscription's own `webhook.subscription.created` event. Use
 * with `committedAfterCreationSql`.
 */
export function subscriptionCreatedJoinSql(s: string): string {
  return `LEFT JOIN LATERAL (
            SELECT true AS found, c.position FROM event_log c
            WHERE c.resource_type = 'webhook' AND c.resource_id = ${s}.id AND c.sequence = 1
              AND c.event_type = 'webhook.subscription.created'
          ) created ON true`;
}

/**
 * The event (at `position`, occurred at `occurredAt`) was committed after the subscription was created: its
 * position is above that of the subscription's creation event. Positions are assigned after commit in
 * commit-compatible order, so this is exactly "committed after"; rows without a creation event (written by
 * hand) fall back to comparing `created_at` with the event's timestamp.
 */
export function committedAfterCreationSql(s: string, position: string, occurredAt: string): string {
  return `CASE WHEN created.found IS NULL THEN ${s}.created_at <= ${occurredAt}
               ELSE created.position IS NOT NULL AND created.position < ${position} END`;
}

/**
 * Ordering: a delivery of (`subscriptionId`, `resourceId`) at `sequence` waits while an earlier-sequence
 * delivery of the same subscription and resource has not had its first attempt recorded (so first attempts go
 * out, and complete, in sequence order) — or, with `strict`, while any earlier one is still open (strict FIFO).
 * A redelivered row starts again at attempt 0, so replays keep per-resource order too.
 */
export function heldBackByEarlierSql(
  subscriptionId: string,
  resourceId: string,
  sequence: string,
  strict: string,
): string {
  return `EXISTS (
            SELECT 1 FROM webhook_deliveries e
            WHERE e.subscription_id = ${subscriptionId} AND e.resource_id = ${resourceId}
              AND e.sequence < ${sequence} AND e.status IN ('pending', 'failed')
              AND (${strict} OR e.attempt_count = 0))`;
}

/**
 * Concurrency: how many requests one subscription may have open at once in a dispatcher process — its own
 * `maxInFlight`, or the operator's default when it sets none, never above the operator's limit (which may have
 * been lowered since the subscription was saved).
 */
export function effectiveMaxInFlight(
  maxInFlight: number | null,
  c: { WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: number; WEBHOOK_MAX_IN_FLIGHT_LIMIT: number },
): number {
  return Math.min(maxInFlight ?? c.WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION, c.WEBHOOK_MAX_IN_FLIGHT_LIMIT);
}

/** `effectiveMaxInFlight` of the subscription `s` (a webhook_subscriptions alias), as an SQL expression. */
export function effectiveMaxInFlightSql(
  s: string,
  c: { WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: number; WEBHOOK_MAX_IN_FLIGHT_LIMIT: number },
): string {
  const int = (n: number) => String(Math.trunc(n));
  return `least(coalesce(${s}.max_in_flight, ${int(c.WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION)}), ${int(c.WEBHOOK_MAX_IN_FLIGHT_LIMIT)})`;
}
