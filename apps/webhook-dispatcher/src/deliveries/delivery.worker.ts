import { Inject, Injectable, Logger } from '@nestjs/common';
import { envelopeFromLogRow, EventLogEntity, type SigningSecret } from '@tidings/db';
import { latestVersion, renderAtVersion, versionInfo } from '@tidings/events';
import { APP_CONFIG } from '@tidings/runtime';
import { signPayload } from '@tidings/signing';
import { DataSource } from 'typeorm';
import type { WebhookDispatcherConfig } from '../webhook-dispatcher.config';
import { type ClaimedDelivery, DeliveryOutcomes } from './delivery-outcome.service';
import { DeliverySender, type SendResult } from './delivery-sender.service';

interface ClaimedRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  attempt_count: number;
  url: string;
  secrets: SigningSecret[];
  version_pins: Record<string, number>;
}

export const USER_AGENT = 'Tidings-Webhooks/1';

/** The non-expired secrets of a subscription: during a rotation both old and new sign every request. */
export function activeSecrets(secrets: SigningSecret[], now = Date.now()): string[] {
  return secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now).map((s) => s.secret);
}

/**
 * Deprecation notice for a rendering at a deprecated catalogue version: `Deprecation: true` (the catalogue
 * records no deprecation date, so the boolean form of the IETF draft that GitHub and others send) and, when the
 * catalogue names one, `Sunset` (RFC 8594) as an HTTP-date.
 */
export function deprecationHeaders(eventType: string, version: number): Record<string, string> {
  const info = versionInfo(eventType, version);
  if (!info.deprecated) return {};
  return info.sunset
    ? { deprecation: 'true', sunset: new Date(info.sunset).toUTCString() }
    : { deprecation: 'true' };
}

/**
 * The delivery loop: claims due deliveries and POSTs them, up to WEBHOOK_WORKER_CONCURRENCY at once and
 * WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION per subscription, so a slow or hanging endpoint holds at most its own
 * slots while every other endpoint keeps flowing.
 *
 * Claiming: `FOR UPDATE SKIP LOCKED` over due rows (pending/failed, next_attempt_at ≤ now, subscription
 * active), then a lease: next_attempt_at moves to now + timeout + margin in the claiming transaction. Replicas
 * never take the same row; a process that dies mid-attempt leaves the lease to expire and the delivery is sent
 * again (at-least-once; receivers dedupe by `webhook-id` = event id). The outcome update only applies while
 * attempt_count is what was claimed, so a late worker never overwrites a newer result.
 *
 * Ordering (per subscription and resource): a delivery is not claimed while an earlier-sequence delivery of
 * the same subscription and resource has not had its FIRST attempt completed, so first attempts go out — and
 * complete — in sequence order. Retries do not hold back later events (a failed sequence 1 retried in 5 min
 * can arrive after sequence 2). With `strict_ordering`, a delivery waits until every earlier one of its
 * resource succeeded or died: strict FIFO, at the price of head-of-line blocking.
 *
 * Each request's body is serialised once, signed, and those exact bytes are sent; the same event always has
 * the same webhook-id and, for one subscription, the same body bytes (its rendering is deterministic).
 *
 * Shutdown in three steps: stop claiming, wait for in-flight attempts (each bounded by the timeout) to be
 * recorded, then release (the Agent and producer close in their own shutdown hooks).
 */
@Injectable()
export class DeliveryWorker {
  private readonly logger = new Logger(DeliveryWorker.name);
  private running = false;
  private loop?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perSubscription = new Map<string, number>();
  private wake?: () => void;
  private woken = false;

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: WebhookDispatcherConfig,
    private readonly sender: DeliverySender,
    private readonly outcomes: DeliveryOutcomes,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Wakes the loop now (new deliveries recorded, a slot freed) instead of at the next poll. */
  poke(): void {
    if (this.wake) this.wake();
    else this.woken = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    let idle = 5;
    while (this.running) {
      const slots = this.config.WEBHOOK_WORKER_CONCURRENCY - this.inFlight.size;
      let claimed: ClaimedRow[] = [];
      if (slots > 0) {
        try {
          claimed = await this.claim(slots);
        } catch (error) {
          this.logger.error(`claim failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      for (const row of claimed) this.track(row);
      if (claimed.length > 0 && claimed.length === slots) {
        idle = 5;
        continue;
      }
      // Idle backoff: 5 ms doubling to WEBHOOK_POLL_MAX_MS; recorded deliveries and freed slots wake it early.
      await this.sleep(idle);
      idle = claimed.length > 0 ? 5 : Math.min(idle * 2, this.config.WEBHOOK_POLL_MAX_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private track(row: ClaimedRow): void {
    this.perSubscription.set(row.subscription_id, (this.perSubscription.get(row.subscription_id) ?? 0) + 1);
    const task = this.attempt(row)
      .catch((error: unknown) =>
        // The lease expires and the delivery is attempted again: nothing is lost.
        this.logger.error(
          `attempt of ${row.id} not recorded: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => {
        this.inFlight.delete(task);
        const left = (this.perSubscription.get(row.subscription_id) ?? 1) - 1;
        if (left > 0) this.perSubscription.set(row.subscription_id, left);
        else this.perSubscription.delete(row.subscription_id);
        this.poke();
      });
    this.inFlight.add(task);
  }

  private async claim(slots: number): Promise<ClaimedRow[]> {
    const cap = this.config.WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION;
    const saturated = [...this.perSubscription].filter(([, n]) => n >= cap).map(([id]) => id);
    const inFlight = Object.fromEntries(this.perSubscription);
    const leaseMs = this.config.WEBHOOK_TIMEOUT_MS + this.config.WEBHOOK_LEASE_MARGIN_MS;
    return this.ds.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }[]>(
        `WITH due AS (
           SELECT d.id,
                  row_number() OVER (PARTITION BY d.subscription_id
                                     ORDER BY d.next_attempt_at, d.event_position) AS rn
           FROM webhook_deliveries d
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
             AND s.status = 'active' AND s.deleted_at IS NULL
             AND d.subscription_id <> ALL($1::text[])
             AND NOT EXISTS (
               SELECT 1 FROM webhook_deliveries e
               WHERE e.subscription_id = d.subscription_id AND e.resource_id = d.resource_id
                 AND e.sequence < d.sequence AND e.status IN ('pending', 'failed')
                 AND (s.strict_ordering OR e.last_attempt_at IS NULL))
           ORDER BY d.next_attempt_at
           LIMIT 1000
         )
         SELECT d.id
         FROM webhook_deliveries d JOIN due ON due.id = d.id
         WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
           AND due.rn <= $2 - COALESCE(($3::jsonb ->> d.subscription_id)::int, 0)
         ORDER BY d.next_attempt_at, d.event_position
         LIMIT $4
         FOR UPDATE OF d SKIP LOCKED`,
        [saturated, cap, JSON.stringify(inFlight), slots],
      );
      if (rows.length === 0) return [];
      const [claimed] = await tx.query<[ClaimedRow[], number]>(
        `UPDATE webhook_deliveries d
         SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
         FROM webhook_subscriptions s
         WHERE d.id = ANY($1::text[]) AND s.id = d.subscription_id
         RETURNING d.id, d.tenant_id, d.subscription_id, d.event_id, d.event_type, d.attempt_count,
                   s.url, s.secrets, s.version_pins`,
        [rows.map((r) => r.id), leaseMs],
      );
      return claimed;
    });
  }

  private async attempt(row: ClaimedRow): Promise<void> {
    const delivery: ClaimedDelivery = {
      id: row.id,
      tenantId: row.tenant_id,
      subscriptionId: row.subscription_id,
      eventId: row.event_id,
      eventType: row.event_type,
      attemptCount: row.attempt_count,
    };
    const attemptedAt = new Date();
    let result: SendResult;
    try {
      const { body, headers } = await this.render(row);
      result = await this.sender.send(row.url, body, headers);
    } catch (error) {
      // Rendering or signing failed (e.g. a pin to a version the catalogue no longer has): a failed attempt
      // with the reason in the log, retried on the schedule like any other.
      result = {
        statusCode: null,
        durationMs: 0,
        responseBody: null,
        error: `not sent: ${error instanceof Error ? error.message : String(error)}`,
        retryAfterMs: null,
      };
    }
    await this.outcomes.record(delivery, result, attemptedAt);
  }

  private async render(row: ClaimedRow): Promise<{ body: string; headers: Record<string, string> }> {
    const stored = await this.ds.getRepository(EventLogEntity).findOneBy({ eventId: row.event_id });
    if (!stored) throw new Error(`event ${row.event_id} is not in the event log`);
    const version = row.version_pins[row.event_type] ?? latestVersion(row.event_type);
    const envelope = renderAtVersion(envelopeFromLogRow(stored), version);
    // Serialise once; the signature covers exactly these bytes and these bytes are sent.
    const body = JSON.stringify(envelope);
    const signed = signPayload({
      id: row.event_id,
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: activeSecrets(row.secrets),
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        ...deprecationHeaders(row.event_type, version),
        ...signed,
      },
    };
  }
}
