import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * outbox.event_log_id loses its unique index: no query looks an outbox row up by its event, and the index took
 * an entry on the insert and on both (never HOT) updates of every row, sequencing and publishing.
 */
export class OutboxEventLogIdUnindexed1796425319335 implements MigrationInterface {
  name = 'OutboxEventLogIdUnindexed1796425319335';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."outbox_event_log_id_uq"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_event_log_id_uq" ON "outbox" USING btree ("event_log_id") `,
    );
  }
}
