import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookDeliveryOpenResourceIndex1795876481180 implements MigrationInterface {
  name = 'WebhookDeliveryOpenResourceIndex1795876481180';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_open_resource_idx" ON "webhook_deliveries"  ("subscription_id", "resource_id", "sequence") WHERE status IN ('pending', 'failed')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_open_resource_idx"`);
  }
}
