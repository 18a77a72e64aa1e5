import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795875145532 implements MigrationInterface {
  name = 'Initial1795875145532';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" text NOT NULL, "tenant_id" text NOT NULL, "name" text NOT NULL, "prefix" text NOT NULL, "secret_hash" text NOT NULL, "scopes" text array NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "api_keys_prefix_uq" ON "api_keys"  ("prefix") `);
    await queryRunner.query(`CREATE INDEX "api_keys_tenant_idx" ON "api_keys"  ("tenant_id") `);
    await queryRunner.query(
      `CREATE TABLE "event_log" ("id" BIGSERIAL NOT NULL, "event_id" uuid NOT NULL, "tenant_id" text NOT NULL, "event_type" text NOT NULL, "version" integer NOT NULL, "resource_type" text NOT NULL, "resource_id" text NOT NULL, "sequence" integer NOT NULL, "source" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "data" jsonb NOT NULL, "traceparent" text, "position" bigint, CONSTRAINT "PK_d8ccd9b5b44828ea378dd37e691" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "event_log_event_id_uq" ON "event_log"  ("event_id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "event_log_position_uq" ON "event_log"  ("position") `);
    await queryRunner.query(
      `CREATE INDEX "event_log_tenant_position_idx" ON "event_log"  ("tenant_id", "position") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_log_resource_seq_uq" ON "event_log"  ("resource_type", "resource_id", "sequence") `,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("tenant_id" text NOT NULL, "key" text NOT NULL, "request_hash" text NOT NULL, "response_status" integer NOT NULL, "response_body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_b5c6db50392003e35d51ef7aba7" PRIMARY KEY ("tenant_id", "key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idempotency_keys_expires_idx" ON "idempotency_keys"  ("expires_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "messages" ("id" text NOT NULL, "tenant_id" text NOT NULL, "sender" text NOT NULL, "channel" text NOT NULL, "body" text NOT NULL, "metadata" jsonb NOT NULL, "version" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "messages_tenant_created_idx" ON "messages"  ("tenant_id", "created_at", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "orders" ("id" text NOT NULL, "tenant_id" text NOT NULL, "customer_id" text NOT NULL, "currency" character(3) NOT NULL, "items" jsonb NOT NULL, "total_minor" bigint NOT NULL, "status" text NOT NULL, "notes" text, "metadata" jsonb NOT NULL, "payment_reference" text, "carrier" text, "tracking_number" text, "cancel_reason" text, "version" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_710e2d4957aa5878dfe94e4ac2f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "orders_tenant_created_idx" ON "orders"  ("tenant_id", "created_at", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "outbox" ("id" BIGSERIAL NOT NULL, "event_log_id" bigint NOT NULL, "position" bigint, "published_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_340ab539f309f03bdaa14aa7649" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "outbox_event_log_id_uq" ON "outbox"  ("event_log_id") `);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox"  ("position") WHERE position IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_unpositioned_idx" ON "outbox"  ("id") WHERE position IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "sequencer_state" ("id" integer NOT NULL, "last_position" bigint NOT NULL, CONSTRAINT "PK_c86e8a74a19abbc80cd51d04726" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "tenants" ("id" text NOT NULL, "name" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_53be67a04681c66b87ee27c9321" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_deliveries" ("id" text NOT NULL, "tenant_id" text NOT NULL, "subscription_id" text NOT NULL, "event_id" uuid NOT NULL, "event_type" text NOT NULL, "event_position" bigint NOT NULL, "resource_id" text NOT NULL, "sequence" integer NOT NULL, "status" text NOT NULL, "attempt_count" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "last_attempt_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" text, "dead_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_tenant_status_idx" ON "webhook_deliveries"  ("tenant_id", "status") `,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_sub_created_idx" ON "webhook_deliveries"  ("subscription_id", "created_at", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries"  ("next_attempt_at") WHERE status IN ('pending', 'failed')`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "webhook_deliveries_sub_event_uq" ON "webhook_deliveries"  ("subscription_id", "event_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_attempts" ("id" BIGSERIAL NOT NULL, "delivery_id" text NOT NULL, "attempt_number" integer NOT NULL, "attempted_at" TIMESTAMP WITH TIME ZONE NOT NULL, "status_code" integer, "duration_ms" integer NOT NULL, "response_body" text, "error" text, "next_attempt_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_2de7e7887ad97de459adab62638" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_attempts_delivery_idx" ON "webhook_attempts"  ("delivery_id", "attempted_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_subscriptions" ("id" text NOT NULL, "tenant_id" text NOT NULL, "url" text NOT NULL, "event_types" text array NOT NULL, "description" text, "metadata" jsonb NOT NULL, "version_pins" jsonb NOT NULL, "strict_ordering" boolean NOT NULL DEFAULT false, "status" text NOT NULL, "disabled_reason" text, "disabled_at" TIMESTAMP WITH TIME ZONE, "secrets" jsonb NOT NULL, "consecutive_failures" integer NOT NULL DEFAULT '0', "version" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_bf631ae77d39849d599817fb6f4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_subscriptions_tenant_idx" ON "webhook_subscriptions"  ("tenant_id", "created_at", "id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."webhook_subscriptions_tenant_idx"`);
    await queryRunner.query(`DROP TABLE "webhook_subscriptions"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_attempts_delivery_idx"`);
    await queryRunner.query(`DROP TABLE "webhook_attempts"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_sub_event_uq"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_due_idx"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_sub_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."webhook_deliveries_tenant_status_idx"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "tenants"`);
    await queryRunner.query(`DROP TABLE "sequencer_state"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpositioned_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_unpublished_idx"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_event_log_id_uq"`);
    await queryRunner.query(`DROP TABLE "outbox"`);
    await queryRunner.query(`DROP INDEX "public"."orders_tenant_created_idx"`);
    await queryRunner.query(`DROP TABLE "orders"`);
    await queryRunner.query(`DROP INDEX "public"."messages_tenant_created_idx"`);
    await queryRunner.query(`DROP TABLE "messages"`);
    await queryRunner.query(`DROP INDEX "public"."idempotency_keys_expires_idx"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_resource_seq_uq"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_tenant_position_idx"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_position_uq"`);
    await queryRunner.query(`DROP INDEX "public"."event_log_event_id_uq"`);
    await queryRunner.query(`DROP TABLE "event_log"`);
    await queryRunner.query(`DROP INDEX "public"."api_keys_tenant_idx"`);
    await queryRunner.query(`DROP INDEX "public"."api_keys_prefix_uq"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
  }
}
