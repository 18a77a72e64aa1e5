import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A subscription's own concurrency (`maxInFlight`); NULL, which every existing row gets, means the operator's
 * default, so nothing changes for them until the field is set.
 */
export class SubscriptionMaxInFlight1796420822840 implements MigrationInterface {
  name = 'SubscriptionMaxInFlight1796420822840';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "max_in_flight" integer`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "max_in_flight"`);
  }
}
