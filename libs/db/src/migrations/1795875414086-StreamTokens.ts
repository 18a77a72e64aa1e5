import { MigrationInterface, QueryRunner } from 'typeorm';

export class StreamTokens1795875414086 implements MigrationInterface {
  name = 'StreamTokens1795875414086';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "stream_tokens" ("id" text NOT NULL, "tenant_id" text NOT NULL, "token_hash" text NOT NULL, "event_types" text array NOT NULL, "api_key_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_a0d0edd00aa59577f36b3b67220" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "stream_tokens_hash_uq" ON "stream_tokens"  ("token_hash") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."stream_tokens_hash_uq"`);
    await queryRunner.query(`DROP TABLE "stream_tokens"`);
  }
}
