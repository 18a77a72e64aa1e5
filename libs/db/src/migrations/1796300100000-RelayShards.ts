import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sequencing shards. Tenants map to a fixed set of shards (`relay_shards`, 64 rows); each shard is
 * sequenced by one relay at a time, the holder of its lease (`holder`, `lease_until`), fenced by `token`
 * (raised on every acquisition; a sequencing transaction only commits under the token it was given). Every
 * relay heartbeats in `relay_members`, so each can take its fair share. An outbox row carries its tenant's
 * shard, computed at insert by `tidings_shard(tenant_id)`: a stable hash (hashtextextended, the one hash
 * partitioning uses) modulo the number of shards, so it never changes unless the shard count does
 * (docs/architecture.md, "Shards": the rebalancing procedure). `last_seq` is the shard's publish-order cursor;
 * every shard starts at the old global cursor, so seqs only grow. Written by hand (a function, data, and the
 * sequencer_state cursor carried over).
 */
export class RelayShards1796300100000 implements MigrationInterface {
  name = 'RelayShards1796300100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "relay_shards" ("shard" integer NOT NULL, "last_seq" bigint NOT NULL, "holder" text, "token" bigint NOT NULL DEFAULT '0', "lease_until" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_relay_shards" PRIMARY KEY ("shard"))`,
    );
    await queryRunner.query(
      `INSERT INTO "relay_shards" ("shard", "last_seq")
       SELECT s, (SELECT "last_seq" FROM "sequencer_state" WHERE "id" = 1) FROM generate_series(0, 63) AS s`,
    );
    await queryRunner.query(`DROP TABLE "sequencer_state"`);
    await queryRunner.query(
      `CREATE TABLE "relay_members" ("id" text NOT NULL, "seen_until" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_relay_members" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE FUNCTION tidings_shard(tenant text) RETURNS integer LANGUAGE sql STABLE AS $$
         SELECT ((hashtextextended(tenant, 0) & 9223372036854775807) % (SELECT count(*) FROM relay_shards))::integer
       $$`,
    );
    await queryRunner.query(`ALTER TABLE "outbox" ADD "shard" integer`);
    await queryRunner.query(`UPDATE "outbox" SET "shard" = tidings_shard("tenant_id")`);
    await queryRunner.query(`ALTER TABLE "outbox" ALTER COLUMN "shard" SET NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpositioned_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_parked_idx"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpositioned_idx" ON "outbox" ("shard", "id") WHERE seq IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("shard", "seq") WHERE seq IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_parked_idx" ON "outbox" ("shard", "seq") WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."outbox_parked_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpositioned_idx"`);
    // One publish order again: renumber what is not yet published after everything that is.
    await queryRunner.query(
      `UPDATE "outbox" o SET "seq" = r.s
         FROM (SELECT "id", (SELECT COALESCE(max("last_seq"), 0) FROM "relay_shards")
                            + row_number() OVER (ORDER BY "seq", "id") AS s
                 FROM "outbox" WHERE "seq" IS NOT NULL AND "published_at" IS NULL) r
        WHERE o."id" = r."id"`,
    );
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "shard"`);
    await queryRunner.query(`CREATE INDEX "outbox_unpositioned_idx" ON "outbox" ("id") WHERE seq IS NULL`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("seq") WHERE seq IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_parked_idx" ON "outbox" ("seq") WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(`DROP FUNCTION tidings_shard(text)`);
    await queryRunner.query(`DROP TABLE "relay_members"`);
    await queryRunner.query(
      `CREATE TABLE "sequencer_state" ("id" integer NOT NULL, "last_seq" bigint NOT NULL, CONSTRAINT "PK_c86e8a74a19abbc80cd51d04726" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `INSERT INTO "sequencer_state" ("id", "last_seq")
       SELECT 1, GREATEST((SELECT COALESCE(max("last_seq"), 0) FROM "relay_shards"),
                          (SELECT COALESCE(max("seq"), 0) FROM "outbox"))`,
    );
    await queryRunner.query(`DROP TABLE "relay_shards"`);
  }
}
