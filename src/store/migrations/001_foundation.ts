/**
 * Foundation tables. Times are stored as epoch milliseconds (BIGINT) so that
 * SQLite and MySQL compare and sort them the same way.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('api_tokens', (t) => {
    t.string('id', 32).primary();
    t.string('name', 128).notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.text('roles').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('last_used_at').nullable();
    t.bigInteger('revoked_at').nullable();
  });

  await db.schema.createTable('jobs', (t) => {
    t.bigIncrements('id').primary();
    t.string('type', 64).notNullable();
    t.text('payload').notNullable();
    // queued -> running -> done | queued (retry) | dead
    t.string('status', 16).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    // When the job may next be claimed: queued, when it is due; running, when
    // its lease runs out; NULL once done or dead. Claims scan this index in
    // order, which lets MySQL lock only the rows it returns.
    t.bigInteger('available_at').nullable();
    t.string('lease_owner', 64).nullable();
    t.text('last_error').nullable();
    t.text('result').nullable();
    t.string('dedupe_key', 191).nullable().unique();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('finished_at').nullable();
    t.index(['available_at'], 'jobs_claim_idx');
    t.index(['status', 'id'], 'jobs_status_idx');
    t.index(['type', 'status'], 'jobs_type_status_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('jobs');
  await db.schema.dropTable('api_tokens');
}
