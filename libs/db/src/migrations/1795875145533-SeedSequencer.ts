import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The sequencer's single cursor row: positions start at 1. */
export class SeedSequencer1795875145533 implements MigrationInterface {
  name = 'SeedSequencer1795875145533';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`INSERT INTO "sequencer_state" ("id", "last_position") VALUES (1, 0)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "sequencer_state" WHERE "id" = 1`);
  }
}
