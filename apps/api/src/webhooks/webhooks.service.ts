import { Inject, Injectable } from '@nestjs/common';
import {
  appendEvent,
  type SigningSecret,
  type SubscriptionKind,
  transaction,
  type Tx,
  WebhookSubscriptionEntity,
} from '@tidings/db';
import { parseWebhookUrl, WebhookUrlError, type WebhookUrlOptions } from '@tidings/egress';
import { buildEvent, type TypedEvent } from '@tidings/events';
import {
  APP_CONFIG,
  ConflictProblem,
  NotFoundProblem,
  UnprocessableProblem,
  ValidationProblem,
} from '@tidings/runtime';
import { generateSecret } from '@tidings/signing';
import {
  deadLetterOnDelete,
  defaultReplayFrom,
  disableSubscription,
  effectiveMaxInFlight,
  enableSubscription,
  type LockedSubscription,
  lockSubscription,
  replay,
  type WebhooksConfig,
} from '@tidings/webhooks';
import { DataSource, IsNull, MoreThan } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import type { ApiConfig } from '../api.config';
import type { TenantCtx } from '../auth/tenant.decorator';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor';
import {
  type CreateWebhookDto,
  DEFAULT_PAGE_LIMIT,
  type EnableWebhookDto,
  type UpdateWebhookDto,
} from './webhooks.dto';

export interface WebhookView {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  metadata: Record<string, string>;
  versionPins: Record<string, number>;
  strictOrdering: boolean;
  maxInFlight: number;
  status: 'active' | 'disabled';
  disabledReason: string | null;
  disabledAt: string | null;
  consecutiveFailures: number;
  consecutiveDeadLetters: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  failingSince: string | null;
  previousSecretExpiresAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const SOURCE = 'tidings/api';
const HOUR_MS = 3_600_000;

function view(s: WebhookSubscriptionEntity, concurrency: WebhooksConfig, now = Date.now()): WebhookView {
  const previous = s.secrets
    .map((x) => x.expiresAt)
    .filter((e): e is string => e !== null && Date.parse(e) > now)
    .sort();
  return {
    id: s.id,
    url: s.url,
    eventTypes: s.eventTypes,
    description: s.description,
    metadata: s.metadata,
    versionPins: s.versionPins,
    strictOrdering: s.strictOrdering,
    maxInFlight: effectiveMaxInFlight(s.maxInFlight, concurrency),
    status: s.status,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt?.toISOString() ?? null,
    consecutiveFailures: s.consecutiveFailures,
    consecutiveDeadLetters: s.consecutiveDeadLetters,
    lastSuccessAt: s.lastSuccessAt?.toISOString() ?? null,
    lastFailureAt: s.lastFailureAt?.toISOString() ?? null,
    failingSince: s.failingSince?.toISOString() ?? null,
    previousSecretExpiresAt: previous.at(-1) ?? null,
    version: s.version,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Webhook subscriptions of a tenant. Every change is an event of the subscription (resource `webhook`) in the
 * audit log, committed in the change's transaction: the row is locked, `version` bumped, and the event appended
 * with sequence = the new version, so a subscription's events are numbered 1, 2, 3… without gaps, interleaved
 * correctly with the dispatcher's own (failing/disabled/exhausted), which follow the same rule. Secrets never
 * appear in any event.
 */
@Injectable()
export class WebhooksService {
  private readonly urlOptions: WebhookUrlOptions;
  private readonly graceMs: number;
  private readonly concurrency: WebhooksConfig;

  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) config: ApiConfig,
  ) {
    this.concurrency = config;
    this.urlOptions = {
      allowHttp: config.WEBHOOK_ALLOW_HTTP,
      allowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
    };
    this.graceMs = config.WEBHOOK_SECRET_GRACE_HOURS * HOUR_MS;
  }

  async create(
    t: TenantCtx,
    body: CreateWebhookDto,
    kind: SubscriptionKind = 'endpoint',
  ): Promise<WebhookView & { secret: string }> {
    const url = this.validUrl(body.url);
    const maxInFlight = this.validMaxInFlight(body.maxInFlight);
    const secret = generateSecret();
    const id = `whk_${uuidv7().replace(/-/g, '')}`;
    const row = await transaction(this.ds, async (tx) => {
      const saved = await tx.getRepository(WebhookSubscriptionEntity).save({
        id,
        tenantId: t.tenantId,
        url,
        eventTypes: [...new Set(body.eventTypes)],
        description: body.description ?? null,
        metadata: body.metadata ?? {},
        versionPins: body.versionPins ?? {},
        strictOrdering: body.strictOrdering ?? false,
        maxInFlight: maxInFlight ?? null,
        status: 'active',
        disabledReason: null,
        disabledAt: null,
        secrets: [{ secret, expiresAt: null }],
        kind,
        consecutiveFailures: 0,
        consecutiveDeadLetters: 0,
        failingWarned: false,
        lastSuccessAt: null,
        lastFailureAt: null,
        version: 1,
        deletedAt: null,
      });
      await this.emit(tx, saved, {
        eventType: 'webhook.subscription.created',
        data: {
          subscriptionId: id,
          url: saved.url,
          eventTypes: saved.eventTypes,
          description: saved.description,
          metadata: saved.metadata,
          versionPins: saved.versionPins,
          status: saved.status,
          strictOrdering: saved.strictOrdering,
          maxInFlight: saved.maxInFlight,
        },
      });
      return saved;
    });
    return { ...view(row, this.concurrency), secret };
  }

  async list(t: TenantCtx, cursor?: string, limit = DEFAULT_PAGE_LIMIT) {
    const after = decodeIdCursor(cursor, 'whk_');
    const rows = await this.ds.getRepository(WebhookSubscriptionEntity).find({
      where: {
        tenantId: t.tenantId,
        kind: 'endpoint',
        deletedAt: IsNull(),
        ...(after ? { id: MoreThan(after) } : {}),
      },
      // Ids are `whk_` + UUIDv7: id order is creation order, and a stable cursor.
      order: { id: 'ASC' },
      take: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      data: page.map((r) => view(r, this.concurrency)),
      nextCursor: rows.length > limit ? encodeIdCursor(page[page.length - 1].id) : null,
    };
  }

  async get(t: TenantCtx, id: string, kind: SubscriptionKind = 'endpoint'): Promise<WebhookView> {
    const row = await this.ds
      .getRepository(WebhookSubscriptionEntity)
      .findOne({ where: { id, tenantId: t.tenantId, kind, deletedAt: IsNull() } });
    if (!row) throw new NotFoundProblem('Webhook', id);
    return view(row, this.concurrency);
  }

  /** The id of the tenant's subscription of this kind (its alert endpoint), if it has one. */
  async idOf(t: TenantCtx, kind: SubscriptionKind): Promise<string | undefined> {
    const row = await this.ds
      .getRepository(WebhookSubscriptionEntity)
      .findOne({ select: { id: true }, where: { tenantId: t.tenantId, kind, deletedAt: IsNull() } });
    return row?.id;
  }

  /**
   * Applies a PATCH. Field changes are one `webhook.subscription.updated` (with the new values of the fields
   * that actually changed); `status` goes through the lifecycle: disabling (reason `manual`) dead-letters every
   * open delivery, enabling resets health and, with `replayFrom`, replays what was missed since then.
   */
  async update(t: TenantCtx, id: string, body: UpdateWebhookDto, kind: SubscriptionKind = 'endpoint') {
    const url = body.url === undefined ? undefined : this.validUrl(body.url);
    const maxInFlight = this.validMaxInFlight(body.maxInFlight);
    return transaction(this.ds, async (tx) => {
      const sub = await this.lock(tx, t, id, kind);
      const enabling = body.status === 'active' && sub.status === 'disabled';
      const disabling = body.status === 'disabled' && sub.status === 'active';
      if (body.replayFrom !== undefined && !enabling)
        throw new ValidationProblem(
          [{ field: 'replayFrom', message: 'requires status: active on a disabled subscription' }],
          'replayFrom is only accepted when re-enabling a disabled subscription (status: active)',
        );
      const changes: Record<string, unknown> = {};
      const set = <K extends keyof WebhookSubscriptionEntity>(
        key: K,
        value: WebhookSubscriptionEntity[K],
      ) => {
        if (sameJson(sub[key], value)) return;
        sub[key] = value;
        changes[key] = value;
      };
      if (url !== undefined) set('url', url);
      if (body.eventTypes !== undefined) set('eventTypes', [...new Set(body.eventTypes)]);
      if (body.description !== undefined) set('description', body.description);
      if (body.metadata !== undefined) set('metadata', body.metadata);
      if (body.versionPins !== undefined) set('versionPins', body.versionPins);
      if (body.strictOrdering !== undefined) set('strictOrdering', body.strictOrdering);
      if (maxInFlight !== undefined) set('maxInFlight', maxInFlight);
      if (Object.keys(changes).length === 0 && !enabling && !disabling) return view(sub, this.concurrency);

      if (Object.keys(changes).length > 0)
        await this.bumpAndSave(tx, sub, [
          { eventType: 'webhook.subscription.updated', data: { subscriptionId: id, changes } },
        ]);
      let replayed: number | undefined;
      if (disabling) await disableSubscription(tx, await this.lockedRow(tx, id), 'manual', SOURCE);
      if (enabling)
        replayed = await enableSubscription(
          tx,
          await this.lockedRow(tx, id),
          body.replayFrom ? new Date(body.replayFrom) : null,
          SOURCE,
        );
      const saved = await this.lock(tx, t, id, kind);
      return body.replayFrom === undefined
        ? view(saved, this.concurrency)
        : { ...view(saved, this.concurrency), replayedDeliveries: replayed };
    });
  }

  /**
   * Re-enables a disabled subscription and replays what it missed: its dead letters since `since` and the
   * matching events committed while it was disabled (default `since`: its last success). With `dryRun`, changes
   * nothing and says how many deliveries the replay would schedule.
   */
  async enable(t: TenantCtx, id: string, body: EnableWebhookDto) {
    return transaction(this.ds, async (tx) => {
      await this.lock(tx, t, id);
      const sub = await this.lockedRow(tx, id);
      if (sub.status === 'active') throw new ConflictProblem(`Webhook ${id} is already active`);
      const from = body.replay === false ? null : body.since ? new Date(body.since) : defaultReplayFrom(sub);
      const count = body.dryRun
        ? from === null
          ? 0
          : (await replay(tx, sub, from, true)).count
        : await enableSubscription(tx, sub, from, SOURCE);
      return {
        dryRun: body.dryRun ?? false,
        replayFrom: from?.toISOString() ?? null,
        replayCount: count,
        webhook: view(await this.lock(tx, t, id), this.concurrency),
      };
    });
  }

  async remove(t: TenantCtx, id: string, kind: SubscriptionKind = 'endpoint'): Promise<void> {
    await transaction(this.ds, async (tx) => {
      const sub = await this.lock(tx, t, id, kind);
      await deadLetterOnDelete(tx, id);
      sub.deletedAt = new Date();
      await this.bumpAndSave(tx, sub, [
        {
          eventType: 'webhook.subscription.deleted',
          data: { subscriptionId: id, deletedAt: sub.deletedAt.toISOString() },
        },
      ]);
    });
  }

  /**
   * A new current secret; the previous current one keeps signing until now + WEBHOOK_SECRET_GRACE_HOURS (the
   * dispatcher signs with every unexpired secret). Secrets that already expired are dropped.
   */
  async rotateSecret(t: TenantCtx, id: string, kind: SubscriptionKind = 'endpoint') {
    const secret = generateSecret();
    return transaction(this.ds, async (tx) => {
      const sub = await this.lock(tx, t, id, kind);
      const now = new Date();
      const expiresAt = new Date(now.getTime() + this.graceMs).toISOString();
      const kept: SigningSecret[] = sub.secrets
        .filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now.getTime())
        .map((s) => (s.expiresAt === null ? { secret: s.secret, expiresAt } : s));
      sub.secrets = [{ secret, expiresAt: null }, ...kept];
      await this.bumpAndSave(tx, sub, [
        {
          eventType: 'webhook.subscription.secret_rotated',
          data: { subscriptionId: id, rotatedAt: now.toISOString(), previousSecretExpiresAt: expiresAt },
        },
      ]);
      return { id, secret, previousSecretExpiresAt: expiresAt };
    });
  }

  /**
   * Emits `webhook.test` for this subscription through the outbox; the dispatcher delivers it to the
   * subscription it names (resourceId) and to no other, whatever the filters.
   */
  async sendTest(
    t: TenantCtx,
    id: string,
    message?: string,
    kind: SubscriptionKind = 'endpoint',
  ): Promise<{ eventId: string }> {
    return transaction(this.ds, async (tx) => {
      const sub = await this.lock(tx, t, id, kind);
      if (sub.status !== 'active')
        throw new ConflictProblem(`Webhook ${id} is disabled; enable it to send a test event`);
      const { eventIds } = await this.bumpAndSave(tx, sub, [
        {
          eventType: 'webhook.test',
          data: { subscriptionId: id, message: message ?? 'Test event from Tidings' },
        },
      ]);
      return { eventId: eventIds[0] };
    });
  }

  /** Within the operator's limit (the DTO checks it is an integer of at least 1); undefined = not given. */
  private validMaxInFlight(input: number | null | undefined): number | null | undefined {
    const limit = this.concurrency.WEBHOOK_MAX_IN_FLIGHT_LIMIT;
    if (input === undefined || input === null || input <= limit) return input;
    const message = `must not be greater than ${limit}, the operator's limit`;
    throw new ValidationProblem([{ field: 'maxInFlight', message }], `maxInFlight ${message}`, { limit });
  }

  private validUrl(input: string): string {
    try {
      return parseWebhookUrl(input, this.urlOptions).href;
    } catch (error) {
      if (!(error instanceof WebhookUrlError)) throw error;
      const malformed = error.reason === 'invalid_url' || error.reason === 'too_long';
      const errors = [{ field: 'url', message: error.message }];
      const extra = { reason: error.reason, ...(error.range ? { range: error.range } : {}) };
      throw malformed
        ? new ValidationProblem(errors, `url: ${error.message}`, extra)
        : new UnprocessableProblem(`url: ${error.message}`, { ...extra, errors });
    }
  }

  /**
   * The subscription row, locked for this transaction; another tenant's, a deleted one or one of another kind
   * is not found.
   */
  private async lock(
    tx: Tx,
    t: TenantCtx,
    id: string,
    kind: SubscriptionKind = 'endpoint',
  ): Promise<WebhookSubscriptionEntity> {
    const sub = await tx.getRepository(WebhookSubscriptionEntity).findOne({
      where: { id, tenantId: t.tenantId, kind, deletedAt: IsNull() },
      lock: { mode: 'pessimistic_write' },
    });
    if (!sub) throw new NotFoundProblem('Webhook', id);
    return sub;
  }

  /** The lifecycle's view of a row this transaction already locked (its current version included). */
  private async lockedRow(tx: Tx, id: string): Promise<LockedSubscription> {
    const sub = await lockSubscription(tx, id);
    if (!sub) throw new NotFoundProblem('Webhook', id);
    return sub;
  }

  private async bumpAndSave(
    tx: Tx,
    sub: WebhookSubscriptionEntity,
    events: TypedEvent[],
  ): Promise<{ saved: WebhookSubscriptionEntity; eventIds: string[] }> {
    const eventIds: string[] = [];
    for (const event of events) {
      sub.version += 1;
      eventIds.push(await this.emit(tx, sub, event));
    }
    return { saved: await tx.getRepository(WebhookSubscriptionEntity).save(sub), eventIds };
  }

  private async emit(tx: Tx, sub: WebhookSubscriptionEntity, typed: TypedEvent): Promise<string> {
    const event = buildEvent({
      ...typed,
      tenantId: sub.tenantId,
      resourceId: sub.id,
      sequence: sub.version,
      source: SOURCE,
    });
    await appendEvent(tx, event);
    return event.eventId;
  }
}
