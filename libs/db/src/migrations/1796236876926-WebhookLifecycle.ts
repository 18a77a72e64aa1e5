import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookLifecycle1796236876926 implements MigrationInterface {
  name = 'WebhookLifecycle1796236876926';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" ADD "dead_reason" text`);
    await queryRunner.query(
      `ALTER TABLE "webhook_deliveries" ADD "dlq_published_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "kind" text NOT NULL DEFAULT 'endpoint'`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "consecutive_dead_letters" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "failing_since" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "failing_warned" boolean NOT NULL DEFAULT false`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "last_success_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_subscriptions" ADD "last_failure_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_dlq_unpublished_idx" ON "webhook_deliveries"  ("dead_at") WHERE status = 'dead' AND dlq_published_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "webhook_subscriptions_alert_uq" ON "webhook_subscriptions"  ("tenant_id") WHERE kind = 'alert' AND deleted_at IS NULL`,
    );
    // Data: existing dead letters were exhausted and already sent to the topic directly; deliveries left open
    // on disabled or deleted subscriptions (the limbo this migration ends) become dead letters with a reason,
    // which the dispatcher's dead-letter publisher then puts on the topic.
    await queryRunner.query(
      `UPDATE "webhook_deliveries" SET "dead_reason" = 'retries_exhausted', "dlq_published_at" = "dead_at" WHERE status = 'dead'`,
    );
    await queryRunner.query(
      `UPDATE "webhook_deliveries" d SET status = 'dead', dead_reason = CASE WHEN s.deleted_at IS NULL THEN 'subscription_disabled' ELSE 'subscription_deleted' END, dead_at = now(), next_attempt_at = NULL, updated_at = now() FROM "webhook_subscriptions" s WHERE s.id = d.subscription_id AND (s.status = 'disabled' OR s.deleted_at IS NOT NULL) AND d.status IN ('pending', 'failed')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."webhook_subscriptions_alert_uq"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_dlq_unpublished_idx"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "last_failure_at"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "last_success_at"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "failing_warned"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "failing_since"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "consecutive_dead_letters"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "kind"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP COLUMN "dlq_published_at"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP COLUMN "dead_reason"`);
  }
}
