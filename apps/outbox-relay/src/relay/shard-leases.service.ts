import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG } from '@tidings/runtime';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import type { OutboxRelayConfig } from '../outbox-relay.config';
import { RelayMetrics } from './relay-metrics.service';

const RENEWAL = 'relay-shard-leases';

/** A shard this relay holds, with the fencing token its lease was granted under. */
export interface ShardLease {
  shard: number;
  token: number;
  holder: string;
}

interface Held {
  token: number;
  /** Local clock: the lease is used only until here (its server-side end minus one renewal of slack). */
  validUntil: number;
  /** Over the fair share: handed back by the worker between rounds. */
  release: boolean;
}

/**
 * Which sequencing shards this relay serves (docs/architecture.md, "Shards"). Every RELAY_SHARD_RENEW_MS, on
 * the pool: heartbeat in relay_members, renew the leases held (only under the token they were granted with),
 * then move toward the fair share, ceil(shards / live relays) — take free or expired shards, or mark the
 * extras for release, which the worker does between rounds so no work of theirs is in flight.
 *
 * The lease is a row (relay_shards.holder, lease_until) with a fencing token raised on every acquisition.
 * A relay that stops renewing (killed, paused, cut off) keeps its shards only until its lease ends, and
 * stops using them one renewal earlier by its own clock; another relay then takes them with a new token. The
 * sequencing transaction locks the shard row and proceeds only if it still carries this relay's token, so a
 * deposed holder — one that has not noticed yet — cannot write a single position (OutboxService.sequence).
 * Publishing cannot be fenced by Postgres; the worker re-checks the lease right before producing, and a
 * deposed holder's in-flight send can only repeat events already positioned (same eventId, same bytes).
 */
@Injectable()
export class ShardLeases implements OnApplicationBootstrap {
  private readonly logger = new Logger('RelayShards');
  /** This process among the relays: host, pid and a random part (a restarted pid is another relay). */
  readonly id = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly held = new Map<number, Held>();
  private maintaining?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: OutboxRelayConfig,
    private readonly ds: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: RelayMetrics,
  ) {}

  /** Takes a first share at once, then keeps the leases every RELAY_SHARD_RENEW_MS. */
  onApplicationBootstrap(): void {
    this.scheduler.addInterval(
      RENEWAL,
      setInterval(() => void this.tick(), this.config.RELAY_SHARD_RENEW_MS),
    );
    void this.tick();
  }

  /**
   * Stops renewing and hands every shard back (the others take them at their next renewal). Called by the
   * worker once its batches are finished: renewals go on until then (ScheduleModule, a global module, clears
   * its intervals only after the app module's shutdown hooks).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scheduler.doesExist('interval', RENEWAL)) this.scheduler.deleteInterval(RENEWAL);
    await this.maintaining;
    const all = [...this.held.keys()];
    for (const shard of all) this.held.get(shard)!.release = true;
    await this.releaseMarked().catch((error) =>
      this.logger.warn(`releasing shards failed: ${String(error)}`),
    );
    await this.ds.query('DELETE FROM relay_members WHERE id = $1', [this.id]).catch(() => undefined);
    if (all.length > 0) this.logger.log(`relay.shards.released: ${all.length} shards handed back`);
  }

  /** The leases usable now, by shard. */
  active(): ShardLease[] {
    const now = Date.now();
    return [...this.held]
      .filter(([, h]) => !h.release && now < h.validUntil)
      .map(([shard, h]) => ({ shard, token: h.token, holder: this.id }))
      .sort((a, b) => a.shard - b.shard);
  }

  /**
   * True while `lease` is still this relay's and usable by its clock. A shard marked for release stays valid
   * until it is handed back: the batch in flight finishes, and no new one starts (`active()` leaves it out).
   */
  valid(lease: ShardLease): boolean {
    const h = this.held.get(lease.shard);
    return h !== undefined && h.token === lease.token && Date.now() < h.validUntil;
  }

  assertValid(lease: ShardLease): void {
    if (!this.valid(lease)) throw new LeaseLostError(lease.shard);
  }

  holds(shard: number): boolean {
    const h = this.held.get(shard);
    return h !== undefined && Date.now() < h.validUntil;
  }

  /** Forgets a lease the database refused (its token is gone): another relay holds the shard now. */
  lose(shard: number, reason: string): void {
    if (!this.held.delete(shard)) return;
    this.logger.warn(`relay.shard.lost: shard ${shard}: ${reason}`);
    this.report();
  }

  /**
   * Hands back the shards marked over the fair share, except those in `busy` (a lane is working on them):
   * the worker calls it whenever no batch of the others is in flight.
   */
  async releaseMarked(busy: ReadonlySet<number> = new Set()): Promise<void> {
    const marked = [...this.held].filter(([shard, h]) => h.release && !busy.has(shard));
    if (marked.length === 0) return;
    await this.ds.query(
      `UPDATE relay_shards r SET holder = NULL, lease_until = NULL
         FROM unnest($2::int[], $3::bigint[]) AS h(shard, token)
        WHERE r.shard = h.shard AND r.token = h.token AND r.holder = $1`,
      [this.id, marked.map(([s]) => s), marked.map(([, h]) => h.token)],
    );
    for (const [shard] of marked) this.held.delete(shard);
    this.report();
  }

  private async tick(): Promise<void> {
    if (this.maintaining || this.stopped) return;
    this.maintaining = this.maintain()
      .catch((error) =>
        this.logger.warn(
          `shard lease renewal failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => (this.maintaining = undefined));
    await this.maintaining;
  }

  /** One renewal: heartbeat, renew, then take or give back shards toward the fair share. */
  async maintain(): Promise<void> {
    const lease = this.config.RELAY_SHARD_LEASE_MS;
    const started = Date.now();
    const validUntil = started + lease - this.config.RELAY_SHARD_RENEW_MS;
    const [{ members, shards }] = await this.ds.query<{ members: number; shards: number }[]>(
      `WITH me AS (
         INSERT INTO relay_members (id, seen_until) VALUES ($1, now() + $2 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET seen_until = excluded.seen_until
       ), gone AS (DELETE FROM relay_members WHERE seen_until < now() - interval '1 hour')
       SELECT (SELECT count(*) FROM relay_members WHERE seen_until > now() AND id <> $1)::int + 1 AS members,
              (SELECT count(*) FROM relay_shards)::int AS shards`,
      [this.id, lease],
    );
    if (this.held.size > 0) {
      const mine = [...this.held];
      const kept = new Set<number>();
      // First every row no transaction holds, skipping the locked ones: a lane's sequencing transaction keeps
      // its shard's row locked for the whole batch, and one statement waiting on it would hold the rows it
      // already renewed, so every other lane's next sequencing would wait for that batch too.
      for (const shard of await this.renew(mine, lease, true)) kept.add(shard);
      // Then the skipped ones, one statement each: each waits only for its own row's transaction.
      for (const entry of mine.filter(([shard]) => !kept.has(shard)))
        for (const shard of await this.renew([entry], lease, false)) kept.add(shard);
      for (const [shard, h] of mine) {
        if (kept.has(shard)) h.validUntil = validUntil;
        else this.lose(shard, 'its lease was taken over (renewal refused)');
      }
    }
    const fair = Math.ceil(shards / members);
    const usable = [...this.held].filter(([, h]) => !h.release);
    if (usable.length > fair) {
      // Give back the highest shards first; the worker releases them between rounds.
      for (const [, h] of usable.sort(([a], [b]) => b - a).slice(0, usable.length - fair)) h.release = true;
    } else if (usable.length < fair && !this.stopped) {
      const [taken] = await this.ds.query<[{ shard: number; token: string }[], number]>(
        `UPDATE relay_shards r SET holder = $1, token = r.token + 1,
                lease_until = now() + $2 * interval '1 millisecond'
           FROM (SELECT shard FROM relay_shards
                  WHERE holder IS NULL OR lease_until < now()
                  ORDER BY holder IS NOT NULL, random()
                  LIMIT $3
                  FOR UPDATE SKIP LOCKED) f
          WHERE r.shard = f.shard AND (r.holder IS NULL OR r.lease_until < now())
          RETURNING r.shard, r.token`,
        [this.id, lease, fair - usable.length],
      );
      for (const t of taken) this.held.set(t.shard, { token: Number(t.token), validUntil, release: false });
      if (taken.length > 0)
        this.logger.log(
          `relay.shards.acquired: ${taken.map((t) => t.shard).join(',')} (now ${this.held.size} of ${shards}, ${members} relays)`,
        );
    }
    this.report();
  }

  /** Extends the leases of `shards` still held under their tokens; returns the shards renewed. */
  private async renew(shards: [number, Held][], lease: number, skipLocked: boolean): Promise<number[]> {
    const [renewed] = await this.ds.query<[{ shard: number }[], number]>(
      `UPDATE relay_shards r SET lease_until = now() + $2 * interval '1 millisecond'
         FROM (SELECT s.shard FROM relay_shards s
                 JOIN unnest($3::int[], $4::bigint[]) AS h(shard, token) ON s.shard = h.shard AND s.token = h.token
                WHERE s.holder = $1
                  FOR UPDATE OF s ${skipLocked ? 'SKIP LOCKED' : ''}) f
        WHERE r.shard = f.shard
        RETURNING r.shard`,
      [this.id, lease, shards.map(([s]) => s), shards.map(([, h]) => h.token)],
    );
    return renewed.map((r) => r.shard);
  }

  private report(): void {
    this.metrics.leader.set(this.held.size > 0 ? 1 : 0);
    this.metrics.shardsHeld.set(this.held.size);
  }
}

export class LeaseLostError extends Error {
  constructor(readonly shard: number) {
    super(`this relay no longer holds shard ${shard} (its lease ended or was taken over)`);
  }
}
