import { MigrationInterface, QueryRunner } from 'typeorm';

export class RelayParkedEvents1796237056261 implements MigrationInterface {
  name = 'RelayParkedEvents1796237056261';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox" ADD "parked_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "outbox" ADD "parked_reason" text`);
    await queryRunner.query(
      `CREATE INDEX "outbox_parked_idx" ON "outbox"  ("position") WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
    // Written by hand: TypeORM does not compare the WHERE of a partial index, so generation misses this change.
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox"  ("position") WHERE position IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox"  ("position") WHERE position IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(`DROP INDEX "public"."outbox_parked_idx"`);
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "parked_reason"`);
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "parked_at"`);
  }
}
