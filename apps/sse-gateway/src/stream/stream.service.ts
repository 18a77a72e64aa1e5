import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { EventLogEntity, envelopeFromLogRow } from '@tidings/db';
import { latestVersion, renderAtVersion, supportedVersions, type EventEnvelope } from '@tidings/events';
import {
  APP_CONFIG,
  bearerToken,
  clientAddress,
  ForbiddenProblem,
  secondsSinceCommit,
  SpanKind,
  startSpan,
  TooManyRequestsProblem,
} from '@tidings/runtime';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DataSource } from 'typeorm';
import type { SseGatewayConfig } from '../sse-gateway.config';
import { FanoutWorker } from './fanout.worker';
import { type DisconnectReason, SseMetrics } from './sse.metrics';
import { StreamAuthService } from './stream-auth.service';
import { effectiveTypes, type StreamQuery } from './stream.dto';

// Live frames held for a client while its replay runs. A replay that falls 10,000 events behind live
// traffic is a reader that cannot keep up: it is cut and resumes with Last-Event-ID.
const MAX_QUEUED_WHILE_REPLAYING = 10_000;

// A burst (a whole Kafka batch is dispatched in one tick) can briefly exceed the cap even for a healthy reader:
// a connection is cut when it is still over the cap this long after going over, or at once past 4× the cap.
const OVER_CAP_GRACE_MS = 1_000;
const HARD_CAP_FACTOR = 4;

// During replay, wait for the socket to drain past this many unsent bytes instead of buffering the log.
const REPLAY_DRAIN_BYTES = 64 * 1024;

export type ResetReason = 'malformed_last_event_id' | 'future_last_event_id' | 'expired_last_event_id';

/** Why a stream's credential stopped being valid while it was open (the `revoked` frame's `reason`). */
export type RevokedReason = 'key_revoked' | 'token_expired';

/** One open stream. Holds no timer and no closure per event: 10,000 of them must fit in ~16 KB each. */
class SseConnection {
  /** False while the replay runs: live events are queued, then drained skipping what replay sent. */
  live = false;
  queue: EventEnvelope[] = [];
  closeReason: DisconnectReason | undefined;

  constructor(
    readonly res: ServerResponse,
    readonly tenantId: string,
    readonly ip: string,
    readonly types: Set<string>,
    readonly resourceId: string | undefined,
    readonly version: number | undefined,
    /** Highest position written (or skipped by the client's own Last-Event-ID): dedupe key. */
    public lastSent: number,
    /** The API key the credential lives by (for a stream token, the key that minted it). */
    readonly apiKeyId: string,
    /** A stream token's expiry (ms since the epoch); undefined for an API key. */
    readonly expiresAt: number | undefined,
  ) {}

  matches(e: EventEnvelope): boolean {
    return (
      e.tenantId === this.tenantId &&
      this.types.has(e.eventType) &&
      (this.resourceId === undefined || e.resourceId === this.resourceId)
    );
  }

  /** The version this client gets `e` at: the requested one when the type has it, else the latest. */
  versionFor(e: EventEnvelope): number {
    return this.version !== undefined && supportedVersions(e.eventType).includes(this.version)
      ? this.version
      : latestVersion(e.eventType);
  }
}

/** Per-event cache of rendered frames by version, so a fan-out to many clients serialises once. */
type FrameCache = Map<number, string>;

/**
 * A live event's frame carries its trace context as a `traceparent` member of `data` (docs/sse.md, "Tracing"):
 * EventSource hands a page only `data`, the event type and `lastEventId`, so `data` is the one place a browser
 * can read it. Replayed frames and events without a context have none.
 */
function frameOf(e: EventEnvelope, version: number, cache?: FrameCache, traceparent?: string): string {
  const cached = cache?.get(version);
  if (cached !== undefined) return cached;
  const rendered = renderAtVersion(e, version);
  const data = JSON.stringify(traceparent ? { ...rendered, traceparent } : rendered);
  const frame = `id: ${e.position}\nevent: ${e.eventType}\ndata: ${data}\n\n`;
  cache?.set(version, frame);
  return frame;
}

/**
 * Opens, resumes, feeds and closes SSE streams. Resume is gapless and duplicate-free: the connection is
 * registered (queueing live frames) BEFORE the replay reads the log, the replay covers exactly the positions
 * between the client's Last-Event-ID and the first live position, and the queue is then drained skipping
 * anything at or below the last position sent.
 *
 * A stream lives only as long as its credential: each heartbeat ends (with `event: revoked`) the streams of
 * expired tokens and, after one query for all open streams' keys, of revoked keys; an `api_key.revoked` event
 * from the fan-out ends that key's streams at once.
 */
@Injectable()
export class StreamService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamService.name);
  private readonly byTenant = new Map<string, Set<SseConnection>>();
  private readonly perIp = new Map<string, number>();
  /** Connections over the buffer cap, with when they first went over. */
  private readonly overCap = new Map<SseConnection, number>();
  private overCapTimer?: NodeJS.Timeout;
  private accepting = false;
  /** A credential check is running: a slow database never stacks them up. */
  private checking = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: SseGatewayConfig,
    private readonly ds: DataSource,
    private readonly fanout: FanoutWorker,
    private readonly auth: StreamAuthService,
    private readonly metrics: SseMetrics,
    private readonly scheduler: SchedulerRegistry,
  ) {
    fanout.onEvent((e, traceparent) => this.dispatch(e, traceparent));
  }

  onApplicationBootstrap(): void {
    this.scheduler.addInterval(
      'sse-heartbeat',
      setInterval(() => this.beat(), this.config.SSE_HEARTBEAT_MS),
    );
    this.accepting = true;
  }

  /**
   * Graceful shutdown in three steps: stop accepting streams; end every open stream (clients reconnect to
   * another instance with Last-Event-ID); then Nest closes the fan-out's consumer (ScheduleModule clears the
   * heartbeat).
   */
  beforeApplicationShutdown(): void {
    this.accepting = false;
    clearTimeout(this.overCapTimer);
    for (const set of this.byTenant.values()) for (const c of set) this.close(c, 'shutdown');
  }

  async open(
    req: IncomingMessage,
    res: ServerResponse,
    query: StreamQuery,
    authorization: string | undefined,
    lastEventIdHeader: string | undefined,
  ): Promise<void> {
    // A closing gateway drops the connection instead of answering 503: browsers give up on an HTTP error
    // but retry a network error, which is what reaches the next instance.
    if (!this.accepting) {
      req.socket.destroy();
      return;
    }
    const bearer = bearerToken(authorization);
    const principal = await this.auth.authenticate(bearer ?? query.accessToken);
    const types = effectiveTypes(query.types, principal.allowedTypes);
    if (types.length === 0) {
      throw new ForbiddenProblem('The credential does not allow any of the requested event types');
    }
    const ip = clientAddress(
      req.socket.remoteAddress,
      req.headers['x-forwarded-for'],
      this.config.SSE_TRUSTED_PROXIES,
    );
    this.checkCaps(principal.tenantId, ip);
    if (!this.accepting || req.socket.destroyed) {
      req.socket.destroy();
      return;
    }

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
      // Browser apps live on other origins. Any origin may read: the credential is in the request (header
      // or access_token), never a cookie, so a foreign page cannot borrow a user's ambient authority.
      'Access-Control-Allow-Origin': '*',
    });
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    // No blank line after the hint, nor after heartbeats: a block holding only `retry:` is an empty event
    // to parsers such as httpx-sse, so the hint rides in the first frame's block (browsers apply it on read).
    res.write(`retry: ${this.config.SSE_RETRY_MS}\n`);

    // Registration and reading `liveFrom` happen in one synchronous step: every position ≥ liveFrom reaches
    // this connection's queue, every position < liveFrom is already committed and visible to the replay.
    const liveFrom = this.fanout.nextPosition(principal.tenantId);
    const conn = new SseConnection(
      res,
      principal.tenantId,
      ip,
      new Set(types),
      query.resourceId,
      query.version,
      liveFrom - 1,
      principal.apiKeyId,
      principal.expiresAt,
    );
    this.register(conn);
    res.on('close', () => this.unregister(conn));

    try {
      const raw = lastEventIdHeader ?? query.lastEventId;
      if (raw !== undefined && raw !== '') await this.resume(conn, raw, liveFrom);
      this.goLive(conn);
    } catch (error) {
      this.logger.error(
        `stream failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      this.close(conn, 'error');
    }
  }

  private async resume(conn: SseConnection, raw: string, liveFrom: number): Promise<void> {
    const head = Math.max(await this.fanout.headPosition(conn.tenantId), liveFrom - 1);
    const earliest = Math.max(0, head - this.config.SSE_REPLAY_WINDOW);
    const reset = (reason: ResetReason) => this.sendReset(conn, reason, raw, earliest, liveFrom);
    if (!/^(0|[1-9][0-9]{0,14})$/.test(raw)) return reset('malformed_last_event_id');
    const from = Number(raw);
    if (from > head) return reset('future_last_event_id');
    if (from < earliest) return reset('expired_last_event_id');
    conn.lastSent = from;
    await this.replay(conn, from, liveFrom);
  }

  /**
   * `event: reset` answers a Last-Event-ID we cannot resume from. Its `id` is the position just before the
   * live stream, so the browser's next reconnect resumes from there instead of repeating the bad id.
   */
  private sendReset(
    conn: SseConnection,
    reason: ResetReason,
    raw: string,
    earliest: number,
    liveFrom: number,
  ) {
    if (conn.closeReason) return;
    const data = {
      reason,
      lastEventId: raw.slice(0, 64),
      // Oldest Last-Event-ID that can still be resumed, and the newest position that exists.
      earliestPosition: earliest,
      latestPosition: liveFrom - 1,
    };
    conn.res.write(`id: ${liveFrom - 1}\nevent: reset\ndata: ${JSON.stringify(data)}\n\n`);
    conn.lastSent = liveFrom - 1;
  }

  private async replay(conn: SseConnection, after: number, liveFrom: number): Promise<void> {
    let cursor = after;
    while (cursor < liveFrom - 1 && !conn.closeReason && !conn.res.destroyed) {
      const q = this.ds
        .getRepository(EventLogEntity)
        .createQueryBuilder('e')
        .where('e.tenant_id = :tenant', { tenant: conn.tenantId })
        .andWhere('e.position > :cursor AND e.position < :liveFrom', { cursor, liveFrom })
        .andWhere('e.event_type = ANY(:types)', { types: [...conn.types] })
        .orderBy('e.position')
        .limit(this.config.SSE_REPLAY_PAGE_SIZE);
      if (conn.resourceId !== undefined) q.andWhere('e.resource_id = :rid', { rid: conn.resourceId });
      const rows = await q.getMany();
      if (rows.length === 0) break;
      for (const row of rows) {
        if (this.send(conn, envelopeFromLogRow(row))) this.metrics.replayed.inc();
        cursor = row.position!;
        if (conn.res.writableLength > Math.min(REPLAY_DRAIN_BYTES, this.config.SSE_MAX_BUFFER_BYTES / 2)) {
          await this.drained(conn.res);
        }
      }
      if (rows.length < this.config.SSE_REPLAY_PAGE_SIZE) break;
    }
  }

  private goLive(conn: SseConnection): void {
    for (const e of conn.queue) if (!conn.closeReason) this.send(conn, e);
    conn.queue = [];
    conn.live = true;
  }

  private drained(res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  /** The fan-out's one receiver, called in each tenant's position order. */
  private dispatch(e: EventEnvelope, traceparent: string | undefined): void {
    const set = this.byTenant.get(e.tenantId);
    if (!set) return;
    const cache: FrameCache = new Map();
    // One span per event sent live, child of the relay's publish span (or of the stored context after a gap fill).
    const span = startSpan('sse send', {
      kind: SpanKind.PRODUCER,
      parent: traceparent,
      attributes: { 'messaging.message.id': e.eventId, 'tidings.position': e.position! },
    });
    let streams = 0;
    for (const conn of set) {
      if (!conn.matches(e)) continue;
      try {
        if (conn.live) streams += this.send(conn, e, cache, span.traceparent) ? 1 : 0;
        else if (conn.queue.push(e) > MAX_QUEUED_WHILE_REPLAYING) this.close(conn, 'slow_consumer');
      } catch (error) {
        // One connection's failure (e.g. a version it asked for cannot be rendered) never stalls the fan-out.
        this.logger.error({ position: e.position, err: error }, 'stream dropped');
        this.close(conn, 'error');
      }
    }
    // Once per event, not per stream: the latency of the pipeline, whatever the number of listeners.
    if (streams > 0) this.metrics.commitToSent.observe(secondsSinceCommit(e.timestamp));
    span.setAttributes({ 'tidings.streams': streams });
    span.end();
    // The key's streams end after the event itself, so a stream of api_key.* still sees its own key revoked.
    if (e.eventType === 'api_key.revoked') {
      for (const conn of set) if (conn.apiKeyId === e.resourceId) this.revoke(conn, 'key_revoked');
    }
  }

  /** Writes one event frame unless it was already sent; cuts the client when its unsent bytes pass the cap. */
  private send(conn: SseConnection, e: EventEnvelope, cache?: FrameCache, traceparent?: string): boolean {
    if (conn.closeReason || e.position! <= conn.lastSent) return false;
    conn.res.write(frameOf(e, conn.versionFor(e), cache, traceparent));
    conn.lastSent = e.position!;
    this.metrics.sent.inc();
    this.checkBuffer(conn);
    return true;
  }

  private beat(): void {
    for (const set of this.byTenant.values()) {
      for (const conn of set) {
        if (conn.closeReason) continue;
        conn.res.write(':keepalive\n');
        this.checkBuffer(conn);
      }
    }
    void this.checkCredentials();
  }

  /**
   * Ends the streams whose credential died since they opened: expired stream tokens (known in memory) and
   * revoked keys, found with one query for the distinct keys of all open streams. Only streams whose key was
   * in that query are judged by its answer (one opened meanwhile waits for the next beat).
   */
  private async checkCredentials(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = Date.now();
      const keys = new Set<string>();
      for (const set of this.byTenant.values()) {
        for (const conn of set) {
          if (conn.closeReason) continue;
          if (conn.expiresAt !== undefined && conn.expiresAt <= now) this.revoke(conn, 'token_expired');
          else keys.add(conn.apiKeyId);
        }
      }
      if (keys.size === 0) return;
      const live = await this.auth.liveKeys([...keys]);
      for (const set of this.byTenant.values()) {
        for (const conn of set) {
          if (keys.has(conn.apiKeyId) && !live.has(conn.apiKeyId)) this.revoke(conn, 'key_revoked');
        }
      }
    } catch (error) {
      this.logger.warn(`credential check failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.checking = false;
    }
  }

  /** The last frame of a stream whose credential died (docs/sse.md, "Revoked"), then the end of the stream. */
  private revoke(conn: SseConnection, reason: RevokedReason): void {
    if (conn.closeReason) return;
    conn.res.write(`event: revoked\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.close(conn, 'revoked');
  }

  private checkBuffer(conn: SseConnection): void {
    const cap = this.config.SSE_MAX_BUFFER_BYTES;
    const buffered = conn.res.writableLength;
    if (buffered <= cap) return;
    if (buffered > cap * HARD_CAP_FACTOR) return this.close(conn, 'slow_consumer');
    if (!this.overCap.has(conn)) this.overCap.set(conn, Date.now());
    this.overCapTimer ??= setTimeout(() => this.cutStillOverCap(), OVER_CAP_GRACE_MS);
  }

  private cutStillOverCap(): void {
    this.overCapTimer = undefined;
    const cap = this.config.SSE_MAX_BUFFER_BYTES;
    const now = Date.now();
    for (const [conn, since] of this.overCap) {
      if (conn.res.writableLength <= cap) this.overCap.delete(conn);
      else if (now - since >= OVER_CAP_GRACE_MS) this.close(conn, 'slow_consumer');
    }
    if (this.overCap.size > 0 && this.accepting) {
      this.overCapTimer = setTimeout(() => this.cutStillOverCap(), OVER_CAP_GRACE_MS / 4);
    }
  }

  private close(conn: SseConnection, reason: DisconnectReason): void {
    if (conn.closeReason) return;
    conn.closeReason = reason;
    conn.queue = [];
    // A slow reader's buffered bytes would never flush: drop the socket. Otherwise end the stream cleanly.
    if (reason === 'slow_consumer') conn.res.destroy();
    else conn.res.end();
  }

  private checkCaps(tenantId: string, ip: string): void {
    const tenantCount = this.byTenant.get(tenantId)?.size ?? 0;
    if (tenantCount >= this.config.SSE_MAX_CONNECTIONS_PER_TENANT) {
      throw new TooManyRequestsProblem('Too many open streams for this tenant', 30);
    }
    if ((this.perIp.get(ip) ?? 0) >= this.config.SSE_MAX_CONNECTIONS_PER_IP) {
      throw new TooManyRequestsProblem('Too many open streams from this address', 30);
    }
  }

  private register(conn: SseConnection): void {
    let set = this.byTenant.get(conn.tenantId);
    if (!set) this.byTenant.set(conn.tenantId, (set = new Set()));
    set.add(conn);
    this.perIp.set(conn.ip, (this.perIp.get(conn.ip) ?? 0) + 1);
    this.metrics.connections.inc();
  }

  private unregister(conn: SseConnection): void {
    const set = this.byTenant.get(conn.tenantId);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.byTenant.delete(conn.tenantId);
    const n = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (n === 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, n);
    conn.closeReason ??= 'client_closed';
    conn.queue = [];
    this.overCap.delete(conn);
    this.metrics.connections.dec();
    this.metrics.disconnects.inc({ reason: conn.closeReason });
  }
}
