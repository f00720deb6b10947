/**
 * SCEP: one row per (profile, transactionID) so a client that resends or
 * polls gets the same answer, pending requests wait for an approver, and
 * one-time challenges are kept only as HMACs.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('scep_transactions', (t) => {
    t.bigIncrements('id').primary();
    t.string('profile', 64).notNullable();
    t.string('transaction_id', 191).notNullable();
    // SHA-256 of the requested public key: a resend must be for the same key
    t.string('key_sha256', 64).notNullable();
    t.string('message_type', 16).notNullable();
    // pending -> issued | rejected; or issued / rejected at once
    t.string('status', 16).notNullable();
    t.string('fail_info', 32).nullable();
    t.text('reason').nullable();
    t.string('serial', 64).nullable();
    t.string('subject', 512).notNullable();
    t.text('csr').nullable(); // kept while pending, for the approver
    t.string('decided_by', 191).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['profile', 'transaction_id'], { indexName: 'scep_transactions_tid_idx' });
    t.index(['status', 'created_at'], 'scep_transactions_status_idx');
  });

  await db.schema.createTable('scep_challenges', (t) => {
    t.bigIncrements('id').primary();
    t.string('profile', 64).notNullable();
    t.string('digest', 64).notNullable().unique();
    t.text('binding').nullable(); // JSON: subject attributes the request must carry
    t.string('created_by', 191).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('scep_challenges');
  await db.schema.dropTable('scep_transactions');
}
