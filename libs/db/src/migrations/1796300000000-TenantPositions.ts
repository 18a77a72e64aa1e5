import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-tenant dense positions. Until now `event_log.position` was one global order; from here each
 * tenant's events are numbered 1, 2, 3… on their own, so a tenant's cursors no longer reveal how many events
 * other tenants produced. Existing positions are renumbered per tenant in their old (commit-compatible) order,
 * which keeps every reader invariant per tenant; `webhook_deliveries.event_position` follows its event.
 * The relay's own publish order moves to `outbox.seq` (the old global positions, internal only), and
 * `tenant_positions` holds each tenant's last position. Run with every relay stopped (docs/event-log.md).
 * Written by hand: generation would drop and re-add the renamed columns, losing their values.
 */
export class TenantPositions1796300000000 implements MigrationInterface {
  name = 'TenantPositions1796300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // outbox: the tenant, and `position` becomes the internal publish order `seq`.
    await queryRunner.query(`ALTER TABLE "outbox" ADD "tenant_id" text`);
    await queryRunner.query(
      `UPDATE "outbox" o SET "tenant_id" = e."tenant_id" FROM "event_log" e WHERE e."id" = o."event_log_id"`,
    );
    await queryRunner.query(`ALTER TABLE "outbox" ALTER COLUMN "tenant_id" SET NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpositioned_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_parked_idx"`);
    await queryRunner.query(`ALTER TABLE "outbox" RENAME COLUMN "position" TO "seq"`);
    await queryRunner.query(`CREATE INDEX "outbox_unpositioned_idx" ON "outbox" ("id") WHERE seq IS NULL`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("seq") WHERE seq IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_parked_idx" ON "outbox" ("seq") WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "sequencer_state" RENAME COLUMN "last_position" TO "last_seq"`);

    // event_log: renumber each tenant 1..N in the old global order.
    await queryRunner.query(`DROP INDEX "public"."event_log_position_uq"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_tenant_position_idx"`);
    await queryRunner.query(
      `UPDATE "event_log" e SET "position" = r.p
         FROM (SELECT "id", row_number() OVER (PARTITION BY "tenant_id" ORDER BY "position") AS p
                 FROM "event_log" WHERE "position" IS NOT NULL) r
        WHERE e."id" = r."id" AND e."position" IS DISTINCT FROM r.p`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_log_tenant_position_uq" ON "event_log" ("tenant_id", "position") `,
    );
    await queryRunner.query(
      `UPDATE "webhook_deliveries" d SET "event_position" = e."position"
         FROM "event_log" e WHERE e."event_id" = d."event_id" AND d."event_position" <> e."position"`,
    );
    await queryRunner.query(
      `CREATE TABLE "tenant_positions" ("tenant_id" text NOT NULL, "last_position" bigint NOT NULL, CONSTRAINT "PK_tenant_positions" PRIMARY KEY ("tenant_id"))`,
    );
    await queryRunner.query(
      `INSERT INTO "tenant_positions" ("tenant_id", "last_position")
       SELECT "tenant_id", max("position") FROM "event_log" WHERE "position" IS NOT NULL GROUP BY "tenant_id"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Back to one global order: the per-tenant interleaving is not recorded, so positioned events are
    // numbered in insertion order, which keeps each resource's order (its events insert one after the other).
    await queryRunner.query(`DROP TABLE "tenant_positions"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_tenant_position_uq"`);
    await queryRunner.query(
      `UPDATE "event_log" e SET "position" = r.p
         FROM (SELECT "id", row_number() OVER (ORDER BY "id") AS p FROM "event_log" WHERE "position" IS NOT NULL) r
        WHERE e."id" = r."id"`,
    );
    await queryRunner.query(
      `UPDATE "webhook_deliveries" d SET "event_position" = e."position"
         FROM "event_log" e WHERE e."event_id" = d."event_id"`,
    );
    await queryRunner.query(
      `UPDATE "outbox" o SET "seq" = e."position" FROM "event_log" e WHERE e."id" = o."event_log_id"`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "event_log_position_uq" ON "event_log" ("position") `);
    await queryRunner.query(
      `CREATE INDEX "event_log_tenant_position_idx" ON "event_log" ("tenant_id", "position") `,
    );
    await queryRunner.query(`ALTER TABLE "sequencer_state" RENAME COLUMN "last_seq" TO "last_position"`);
    await queryRunner.query(
      `UPDATE "sequencer_state" SET "last_position" = (SELECT COALESCE(max("position"), 0) FROM "event_log")`,
    );
    await queryRunner.query(`DROP INDEX "public"."outbox_parked_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpositioned_idx"`);
    await queryRunner.query(`ALTER TABLE "outbox" RENAME COLUMN "seq" TO "position"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpositioned_idx" ON "outbox" ("id") WHERE position IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("position") WHERE position IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_parked_idx" ON "outbox" ("position") WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "tenant_id"`);
  }
}
