import { appendEvent, type DeadReason, type Tx } from '@tidings/db';
import { buildEvent, type EventData, type KnownEventType } from '@tidings/events';
import type { DataSource } from 'typeorm';
import {
  committedAfterCreationSql,
  type HealthPolicy,
  matchesEventTypeSql,
  nextAttemptAt,
  type RetryPolicy,
  subscriptionCreatedJoinSql,
} from './rules';

/**
 * The webhook failure lifecycle as one state machine, used by the dispatcher (attempt outcomes) and the api
 * (disable, enable, replay, redeliver). docs/webhooks.md describes it for subscribers.
 *
 * Delivery:     pending ──attempt──▶ succeeded
 *                  │ ▲                  ▲ (a success recorded after a disable still counts)
 *                  ▼ │ retry due        │
 *               failed ──schedule exhausted──▶ dead (retries_exhausted)
 *               pending/failed ──subscription disabled / deleted──▶ dead (subscription_disabled / _deleted)
 *               dead ──replay / redeliver──▶ pending (attempt 0, whole schedule again, same event id)
 *
 * Endpoint health is decided by what the endpoint answered, in ANSWER order (`Attempt.answeredAt`), and a
 * failure counts against it only when its request was SENT after the last success was answered
 * (`attemptedAt > last_success_at`). Requests in flight at the same time reach the endpoint and come back in
 * an order nobody can know (a loaded dispatcher reads responses that arrived together in any order): an
 * endpoint answering F,S,F,S… to 16 concurrent requests can be seen as F,F,F,S,S,S. So a success wins over
 * every failure it overlapped: failures that extend a streak are requests sent to an endpoint already seen
 * failing, which an alternating endpoint never produces three of in a row.
 * Within a process, a failure is written only after every attempt of its subscription sent before it and every
 * success answered before it (DeliveryOutcomes), so a success it overlapped is known when it is judged; across
 * replicas a failure answered after another replica's not-yet-written success may be reset by it (an
 * undercount: never a wrong disable).
 * - any success resets it: consecutive failures, consecutive dead letters, the failing warning;
 * - `failing` once per streak, when a request sent `failingWarningAfterMs` (default 5 min) after the streak's
 *   first failure failed too, and at least `failingWarningAt` (3) failures in a row;
 * - disabled after `disableAfterDeadLetters` deliveries dead-lettered in a row (about a day of continuous
 *   failure under the default schedule), or at once on `410 Gone`.
 * On disable every open delivery is dead-lettered (`subscription_disabled`): nothing waits in limbo, and new
 * events are not recorded while disabled; re-enabling can replay both (`replayCount` / `enableSubscription`).
 * The tenant's alert endpoint (kind `alert`) retries and dead-letters like any subscription but has no health:
 * it is never disabled and emits no operational events, so it cannot alert about itself.
 */

export type DisableReason = 'consecutive_failures' | 'gone' | 'manual';

/** What an attempt got back (the dispatcher's sender fills it). */
export interface AttemptResult {
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  /** Why no usable response arrived (timeout, refused address, connection error). */
  error: string | null;
  retryAfterMs: number | null;
}

/** The attempt of a claimed delivery. */
export interface Attempt {
  deliveryId: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  /** attempt_count at claim time: this attempt is number attemptCount + 1. */
  attemptCount: number;
  attemptedAt: Date;
  /**
   * When the answer (or the failure) reached the dispatcher: the order health is decided in. Taken as each
   * response completes, it orders answers as the dispatcher saw them — attempted_at + duration does not
   * (a request's start is taken before it waits for a connection).
   */
  answeredAt: Date;
}

export const isSuccess = (r: AttemptResult) =>
  r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

// 1000 characters: what the operational events' schema allows, plenty for an error's gist.
export const errorOf = (r: AttemptResult) =>
  (r.error ?? (r.statusCode === null ? 'no response' : `HTTP ${r.statusCode}`)).slice(0, 1000);

/** A state change worth a metric and a log line, reported to the caller. */
export type Transition =
  | { kind: 'failing' }
  | { kind: 'exhausted' }
  | { kind: 'disabled'; reason: DisableReason; deadLettered: number };

export interface FailureOutcome {
  /** `stale`: another worker recorded this attempt's delivery meanwhile (its lease had expired); nothing written. */
  outcome: 'failed' | 'dead' | 'stale';
  nextAttemptAt: Date | null;
  transitions: Transition[];
}

/** A subscription row locked for the transaction. */
export interface LockedSubscription {
  id: string;
  tenant_id: string;
  kind: 'endpoint' | 'alert';
  url: string;
  status: 'active' | 'disabled';
  consecutive_failures: number;
  consecutive_dead_letters: number;
  failing_since: Date | null;
  failing_warned: boolean;
  last_success_at: Date | null;
  version: number;
  created_at: Date;
  disabled_at: Date | null;
  deleted_at: Date | null;
}

export async function lockSubscription(tx: Tx, id: string): Promise<LockedSubscription | undefined> {
  const [sub] = await tx.query<LockedSubscription[]>(
    `SELECT id, tenant_id, kind, url, status, consecutive_failures, consecutive_dead_letters, failing_since,
            failing_warned, last_success_at, version, created_at, disabled_at, deleted_at
     FROM webhook_subscriptions WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return sub;
}

/** Appends an event of the subscription (resource `webhook`): bumps its version and uses it as the sequence. */
export async function appendSubscriptionEvent<T extends KnownEventType>(
  tx: Tx,
  sub: LockedSubscription,
  eventType: T,
  data: EventData<T>,
  source: string,
): Promise<string> {
  sub.version += 1;
  await tx.query(`UPDATE webhook_subscriptions SET version = $2 WHERE id = $1`, [sub.id, sub.version]);
  const event = buildEvent<T>({
    eventType,
    tenantId: sub.tenant_id,
    resourceId: sub.id,
    sequence: sub.version,
    data,
    source,
  });
  await appendEvent(tx, event);
  return event.eventId;
}

/**
 * Records one failed attempt in one transaction under the subscription's row lock: the attempt row, the
 * delivery's next state (failed with its next attempt, or dead: retries_exhausted), the endpoint's health and
 * the operational events through the outbox.
 */
export async function recordFailure(
  tx: Tx,
  attempt: Attempt,
  result: AttemptResult,
  policy: { retry: RetryPolicy; health: HealthPolicy },
  source: string,
): Promise<FailureOutcome> {
  const number = attempt.attemptCount + 1;
  const answered = attempt.answeredAt;
  const next = nextAttemptAt(
    policy.retry,
    number,
    result.statusCode === 429 || result.statusCode === 503 ? result.retryAfterMs : null,
  );
  const dead = next === null;
  const sub = await lockSubscription(tx, attempt.subscriptionId);
  await tx.query(
    `INSERT INTO webhook_attempts (delivery_id, attempt_number, attempted_at, status_code, duration_ms,
                                   response_body, error, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      attempt.deliveryId,
      number,
      attempt.attemptedAt,
      result.statusCode,
      result.durationMs,
      result.responseBody,
      errorOf(result),
      next,
    ],
  );
  // attempt_count guards against a second worker that took over after this one's lease expired.
  const [, updated] = await tx.query<[unknown[], number]>(
    `UPDATE webhook_deliveries
     SET status = $3, attempt_count = attempt_count + 1, next_attempt_at = $4, last_attempt_at = $5,
         last_status_code = $6, last_error = $7,
         dead_at = CASE WHEN $3 = 'dead' THEN $8::timestamptz END,
         dead_reason = CASE WHEN $3 = 'dead' THEN 'retries_exhausted' END,
         dlq_published_at = NULL, updated_at = now()
     WHERE id = $1 AND attempt_count = $2 AND status IN ('pending', 'failed')
     RETURNING id`,
    [
      attempt.deliveryId,
      attempt.attemptCount,
      dead ? 'dead' : 'failed',
      next,
      attempt.attemptedAt,
      result.statusCode,
      errorOf(result),
      answered,
    ],
  );
  if (updated === 0 || !sub) return { outcome: 'stale', nextAttemptAt: null, transitions: [] };
  const transitions: Transition[] = [];
  if (dead) transitions.push({ kind: 'exhausted' });
  if (sub.kind === 'alert') return { outcome: dead ? 'dead' : 'failed', nextAttemptAt: next, transitions };

  if (dead)
    await appendSubscriptionEvent(
      tx,
      sub,
      'webhook.delivery.exhausted',
      {
        subscriptionId: sub.id,
        deliveryId: attempt.deliveryId,
        eventId: attempt.eventId,
        eventType: attempt.eventType,
        attempts: number,
        lastError: errorOf(result),
      },
      source,
    );
  // Sent after the last success was answered: it extends the current streak (an overlapping one does not).
  const inStreak = sub.last_success_at === null || attempt.attemptedAt > sub.last_success_at;
  if (inStreak) {
    sub.consecutive_failures += 1;
    if (dead) sub.consecutive_dead_letters += 1;
    if (sub.failing_since === null || answered < sub.failing_since) sub.failing_since = answered;
  }
  const gone = result.statusCode === 410;
  const sustained = dead && inStreak && sub.consecutive_dead_letters >= policy.health.disableAfterDeadLetters;
  const warn =
    !gone &&
    !sustained &&
    inStreak &&
    !sub.failing_warned &&
    sub.consecutive_failures >= policy.health.failingWarningAt &&
    sub.failing_since !== null &&
    attempt.attemptedAt.getTime() - sub.failing_since.getTime() >= policy.health.failingWarningAfterMs;
  await tx.query(
    `UPDATE webhook_subscriptions
     SET consecutive_failures = $2, consecutive_dead_letters = $3, failing_warned = $4,
         failing_since = $6, last_failure_at = GREATEST(last_failure_at, $5)
     WHERE id = $1`,
    [
      sub.id,
      sub.consecutive_failures,
      sub.consecutive_dead_letters,
      sub.failing_warned || warn,
      answered,
      sub.failing_since,
    ],
  );
  if (sub.status === 'active' && (gone || sustained)) {
    const reason: DisableReason = gone ? 'gone' : 'consecutive_failures';
    const deadLettered = await disableSubscription(tx, sub, reason, source);
    transitions.push({ kind: 'disabled', reason, deadLettered });
  } else if (sub.status === 'active' && warn) {
    await appendSubscriptionEvent(
      tx,
      sub,
      'webhook.subscription.failing',
      {
        subscriptionId: sub.id,
        url: sub.url,
        consecutiveFailures: sub.consecutive_failures,
        threshold: policy.health.disableAfterDeadLetters,
        lastError: errorOf(result),
      },
      source,
    );
    transitions.push({ kind: 'failing' });
  }
  return { outcome: dead ? 'dead' : 'failed', nextAttemptAt: next, transitions };
}

/**
 * Records many successful attempts in ONE statement (the dispatcher group-commits them): attempt rows,
 * deliveries succeeded, and each subscription's health reset — unless it already knows a later success. A
 * delivery dead-lettered by a disable while its attempt was in flight is recorded as the success it was.
 */
export async function recordSuccesses(
  ds: DataSource,
  batch: { attempt: Attempt; result: AttemptResult }[],
): Promise<void> {
  // A deadlock with another process' batch would abort this statement; the caller then writes one by one.
  // Not prepared: its generic plan ran 5–10× slower than the planned one (docs/benchmarks.md, "Postgres per event").
  await ds.query(
    `WITH r AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[],
                            $7::timestamptz[])
                AS r(id, attempt_count, attempted_at, status_code, duration_ms, response_body, answered_at)
     ), attempts AS (
       INSERT INTO webhook_attempts (delivery_id, attempt_number, attempted_at, status_code, duration_ms,
                                     response_body)
       SELECT id, attempt_count + 1, attempted_at, status_code, duration_ms, response_body FROM r
     ), succeeded AS (
       UPDATE webhook_deliveries d
       SET status = 'succeeded', attempt_count = d.attempt_count + 1, next_attempt_at = NULL,
           last_attempt_at = r.attempted_at, last_status_code = r.status_code, last_error = NULL,
           dead_at = NULL, dead_reason = NULL, updated_at = now()
       FROM r
       WHERE d.id = r.id AND d.attempt_count = r.attempt_count
         AND (d.status IN ('pending', 'failed') OR (d.status = 'dead' AND d.dead_reason = 'subscription_disabled'))
       RETURNING d.id
     ), healthy AS (
       -- Every 2xx the endpoint answered, also one whose delivery another worker recorded meanwhile (stale
       -- here): it is still an answer of a healthy endpoint.
       SELECT d.subscription_id, max(r.answered_at) AS answered_at
       FROM r JOIN webhook_deliveries d ON d.id = r.id GROUP BY d.subscription_id
     )
     UPDATE webhook_subscriptions s
     SET consecutive_failures = 0, consecutive_dead_letters = 0, failing_since = NULL, failing_warned = false,
         last_success_at = h.answered_at
     FROM healthy h
     WHERE s.id = h.subscription_id AND (s.last_success_at IS NULL OR s.last_success_at < h.answered_at)`,
    [
      batch.map((s) => s.attempt.deliveryId),
      batch.map((s) => s.attempt.attemptCount),
      batch.map((s) => s.attempt.attemptedAt),
      batch.map((s) => s.result.statusCode),
      batch.map((s) => s.result.durationMs),
      batch.map((s) => s.result.responseBody),
      batch.map((s) => s.attempt.answeredAt),
    ],
  );
}

/** Dead-letters every open delivery of a subscription; returns how many. */
async function deadLetterOpen(tx: Tx, subscriptionId: string, reason: DeadReason): Promise<number> {
  const [, count] = await tx.query<[unknown[], number]>(
    `UPDATE webhook_deliveries
     SET status = 'dead', dead_reason = $2, dead_at = now(), next_attempt_at = NULL, dlq_published_at = NULL,
         updated_at = now()
     WHERE subscription_id = $1 AND status IN ('pending', 'failed')
     RETURNING id`,
    [subscriptionId, reason],
  );
  return count;
}

/**
 * Disables an active subscription: status, reason, `webhook.subscription.disabled`, and every open delivery
 * dead-lettered (`subscription_disabled`). Returns how many deliveries that dead-lettered.
 */
export async function disableSubscription(
  tx: Tx,
  sub: LockedSubscription,
  reason: DisableReason,
  source: string,
): Promise<number> {
  await tx.query(
    `UPDATE webhook_subscriptions
     SET status = 'disabled', disabled_reason = $2, disabled_at = now(), updated_at = now()
     WHERE id = $1`,
    [sub.id, reason],
  );
  sub.status = 'disabled';
  const deadLettered = await deadLetterOpen(tx, sub.id, 'subscription_disabled');
  await appendSubscriptionEvent(
    tx,
    sub,
    'webhook.subscription.disabled',
    { subscriptionId: sub.id, url: sub.url, reason, consecutiveFailures: sub.consecutive_failures },
    source,
  );
  return deadLettered;
}

/** A deleted subscription leaves nothing open: its pending and failed deliveries become dead letters. */
export function deadLetterOnDelete(tx: Tx, subscriptionId: string): Promise<number> {
  return deadLetterOpen(tx, subscriptionId, 'subscription_deleted');
}

/**
 * The default start of a re-enable replay: the last success the endpoint answered (everything since then is
 * what it missed), or the subscription's creation when it never succeeded.
 */
export const defaultReplayFrom = (sub: LockedSubscription): Date => sub.last_success_at ?? sub.created_at;

/**
 * Re-enables a disabled subscription (health reset, `webhook.subscription.enabled`) and, with `replayFrom`,
 * replays what it missed since then (`replay`). Returns the number of deliveries scheduled.
 */
export async function enableSubscription(
  tx: Tx,
  sub: LockedSubscription,
  replayFrom: Date | null,
  source: string,
): Promise<number> {
  await tx.query(
    `UPDATE webhook_subscriptions
     SET status = 'active', disabled_reason = NULL, disabled_at = NULL, consecutive_failures = 0,
         consecutive_dead_letters = 0, failing_since = NULL, failing_warned = false, updated_at = now()
     WHERE id = $1`,
    [sub.id],
  );
  sub.status = 'active';
  await appendSubscriptionEvent(
    tx,
    sub,
    'webhook.subscription.enabled',
    { subscriptionId: sub.id, url: sub.url, replayFrom: replayFrom?.toISOString() ?? null },
    source,
  );
  return replayFrom === null ? 0 : (await replay(tx, sub, replayFrom, false)).count;
}

/**
 * Replay of what a subscription missed since `from`: its dead letters that died since then (any reason), and
 * the matching events committed after its creation, occurred since then, that were never recorded for it
 * (committed while it was disabled). Succeeded deliveries are never repeated; test pings are not replayed.
 * Every replayed delivery starts again at attempt 0 with the original event id and bytes, and per-resource
 * order holds (heldBackByEarlierSql). With `dryRun`, only counts — the same sets.
 */
export async function replay(
  tx: Tx | DataSource,
  sub: Pick<LockedSubscription, 'id' | 'tenant_id'>,
  from: Date,
  dryRun: boolean,
): Promise<{ count: number }> {
  const unrecorded = `
    FROM event_log e
    JOIN webhook_subscriptions s ON s.id = $2
    ${subscriptionCreatedJoinSql('s')}
    WHERE e.tenant_id = $1 AND e.position IS NOT NULL AND e.occurred_at >= $3
      AND e.event_type <> 'webhook.test'
      AND ${matchesEventTypeSql('s', 'e.event_type', 'e.resource_id')}
      AND ${committedAfterCreationSql('s', 'e.position', 'e.occurred_at')}
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.subscription_id = s.id AND x.event_id = e.event_id)`;
  const deadSince = `FROM webhook_deliveries d WHERE d.subscription_id = $1 AND d.status = 'dead' AND d.dead_at >= $2`;
  if (dryRun) {
    const [dead] = await tx.query<{ n: number }[]>(`SELECT count(*)::int AS n ${deadSince}`, [sub.id, from]);
    const [fresh] = await tx.query<{ n: number }[]>(`SELECT count(*)::int AS n ${unrecorded}`, [
      sub.tenant_id,
      sub.id,
      from,
    ]);
    return { count: dead.n + fresh.n };
  }
  const [revived] = await tx.query<[unknown[], number]>(
    `UPDATE webhook_deliveries d
     SET status = 'pending', attempt_count = 0, next_attempt_at = now(), dead_at = NULL, dead_reason = NULL,
         dlq_published_at = NULL, updated_at = now()
     WHERE d.subscription_id = $1 AND d.status = 'dead' AND d.dead_at >= $2
     RETURNING d.id`,
    [sub.id, from],
  );
  const inserted = await tx.query<{ id: string }[]>(
    `INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_position,
                                     resource_id, sequence, status, next_attempt_at)
     SELECT 'dlv_' || gen_random_uuid()::text, e.tenant_id, s.id, e.event_id, e.event_type, e.position,
            e.resource_id, e.sequence, 'pending', now()
     ${unrecorded}
     ON CONFLICT (subscription_id, event_id) DO NOTHING
     RETURNING id`,
    [sub.tenant_id, sub.id, from],
  );
  return { count: revived.length + inserted.length };
}

/** Which deliveries to schedule again (always within one tenant). */
export interface RedeliverFilter {
  statuses: ('pending' | 'failed' | 'succeeded' | 'dead')[];
  subscriptionId?: string;
  deliveryId?: string;
  /** A SQL LIKE pattern (escape `\`) for the event type. */
  eventTypeLike?: string;
  /** Bounds on when the delivery failed or died: COALESCE(dead_at, last_attempt_at). */
  since?: Date;
  until?: Date;
}

/**
 * Schedules the matching deliveries again from scratch: pending, attempt count 0, due now, original event id.
 * Only deliveries of active, undeleted subscriptions are matched — a disabled subscription's deliveries would
 * otherwise wait in limbo (enable it with replay instead). With `dryRun`, only counts the same set.
 */
export async function redeliver(
  db: Tx | DataSource,
  tenantId: string,
  f: RedeliverFilter,
  dryRun: boolean,
): Promise<{ count: number }> {
  const where = [
    'd.tenant_id = $1',
    'd.status = ANY($2::text[])',
    `EXISTS (SELECT 1 FROM webhook_subscriptions s
             WHERE s.id = d.subscription_id AND s.deleted_at IS NULL AND s.status = 'active')`,
  ];
  const params: unknown[] = [tenantId, f.statuses];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (f.subscriptionId !== undefined) add((p) => `d.subscription_id = ${p}`, f.subscriptionId);
  if (f.deliveryId !== undefined) add((p) => `d.id = ${p}`, f.deliveryId);
  if (f.eventTypeLike !== undefined) add((p) => `d.event_type LIKE ${p} ESCAPE '\\'`, f.eventTypeLike);
  if (f.since !== undefined) add((p) => `COALESCE(d.dead_at, d.last_attempt_at) >= ${p}`, f.since);
  if (f.until !== undefined) add((p) => `COALESCE(d.dead_at, d.last_attempt_at) < ${p}`, f.until);
  if (dryRun) {
    const [row] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM webhook_deliveries d WHERE ${where.join(' AND ')}`,
      params,
    );
    return { count: row.n };
  }
  const [rows] = await db.query<[unknown[], number]>(
    `UPDATE webhook_deliveries d
     SET status = 'pending', attempt_count = 0, next_attempt_at = now(), dead_at = NULL, dead_reason = NULL,
         dlq_published_at = NULL, updated_at = now()
     WHERE ${where.join(' AND ')}
     RETURNING d.id`,
    params,
  );
  return { count: rows.length };
}

/** What the dead-letter topic carries for each dead letter (key: subscription id). */
export interface DeadLetterRecord {
  deliveryId: string;
  tenantId: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  reason: DeadReason;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  deadAt: string;
}

/**
 * The dead-letter topic's outbox is the deliveries table: a dead letter and "to publish" commit together
 * (dlq_published_at IS NULL), and the publisher sends them outside any transaction, then marks them.
 */
export async function unpublishedDeadLetters(ds: DataSource, limit: number): Promise<DeadLetterRecord[]> {
  const rows = await ds.query<
    {
      id: string;
      tenant_id: string;
      subscription_id: string;
      event_id: string;
      event_type: string;
      dead_reason: DeadReason;
      attempt_count: number;
      last_status_code: number | null;
      last_error: string | null;
      dead_at: Date;
    }[]
  >(
    `SELECT id, tenant_id, subscription_id, event_id, event_type, dead_reason, attempt_count, last_status_code,
            last_error, dead_at
     FROM webhook_deliveries WHERE status = 'dead' AND dlq_published_at IS NULL
     ORDER BY dead_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    deliveryId: r.id,
    tenantId: r.tenant_id,
    subscriptionId: r.subscription_id,
    eventId: r.event_id,
    eventType: r.event_type,
    reason: r.dead_reason,
    attempts: r.attempt_count,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    deadAt: r.dead_at.toISOString(),
  }));
}

export async function markDeadLettersPublished(ds: DataSource, deliveryIds: string[]): Promise<void> {
  await ds.query(
    `UPDATE webhook_deliveries SET dlq_published_at = now()
     WHERE id = ANY($1::text[]) AND status = 'dead' AND dlq_published_at IS NULL`,
    [deliveryIds],
  );
}

/**
 * One more attempt of one delivery, now: a failed delivery keeps its place in the schedule; a dead one gets
 * the whole schedule back (as a dead-letter replay does); a succeeded one is sent again. Returns false when the
 * delivery's subscription is not active (the attempt would never be claimed).
 */
export async function retryNow(db: Tx | DataSource, tenantId: string, deliveryId: string): Promise<boolean> {
  const [rows] = await db.query<[unknown[], number]>(
    `UPDATE webhook_deliveries d
     SET status = CASE WHEN d.status = 'failed' THEN 'failed' ELSE 'pending' END,
         attempt_count = CASE WHEN d.status = 'dead' THEN 0 ELSE d.attempt_count END,
         dead_at = NULL, dead_reason = NULL, dlq_published_at = NULL, next_attempt_at = now(), updated_at = now()
     FROM webhook_subscriptions s
     WHERE d.id = $1 AND d.tenant_id = $2 AND s.id = d.subscription_id AND s.status = 'active'
       AND s.deleted_at IS NULL
     RETURNING d.id`,
    [deliveryId, tenantId],
  );
  return rows.length > 0;
}
