/**
 * Issuance core: the certificate inventory, escrowed keys, the key pool,
 * per-CA CRL state and the append-only audit trail. Binary values (wrapped
 * keys, CRLs) are stored base64 in text columns, which both databases
 * handle identically.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('certificates', (t) => {
    t.string('serial', 40).primary(); // lower-case hex, 16 random bytes
    t.string('ca', 64).notNullable();
    t.string('subject', 1024).notNullable();
    t.text('sans').notNullable(); // JSON array of {type, value}
    t.string('template', 64).nullable();
    t.string('user_id', 191).nullable();
    t.string('device_id', 191).nullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    // valid | revoked | hold
    t.string('status', 16).notNullable();
    t.bigInteger('revoked_at').nullable();
    t.string('revocation_reason', 32).nullable();
    t.string('sha1', 40).notNullable();
    t.string('sha256', 64).notNullable().unique();
    t.text('pem').notNullable();
    t.boolean('key_escrowed').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.index(['user_id'], 'certificates_user_idx');
    t.index(['device_id'], 'certificates_device_idx');
    t.index(['ca', 'status'], 'certificates_ca_status_idx');
    t.index(['not_after'], 'certificates_not_after_idx');
  });

  await db.schema.createTable('escrowed_keys', (t) => {
    t.string('serial', 40).primary().references('serial').inTable('certificates');
    t.string('kek_id', 16).notNullable(); // which master key wrapped it
    t.text('wrapped').notNullable();
    t.bigInteger('created_at').notNullable();
  });

  await db.schema.createTable('key_pool', (t) => {
    t.bigIncrements('id').primary();
    t.string('algorithm', 16).notNullable();
    t.string('kek_id', 16).notNullable();
    t.text('wrapped').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['algorithm', 'id'], 'key_pool_algorithm_idx');
  });

  await db.schema.createTable('crl_state', (t) => {
    t.string('ca', 64).primary();
    t.bigInteger('crl_number').notNullable();
    t.bigInteger('this_update').notNullable();
    t.bigInteger('next_update').notNullable();
    // set when a revocation makes the published CRL stale
    t.boolean('stale').notNullable().defaultTo(false);
    t.text('der').notNullable();
  });

  await db.schema.createTable('audit', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('at').notNullable();
    t.string('actor', 191).notNullable();
    t.string('action', 64).notNullable();
    t.string('subject_type', 32).notNullable();
    t.string('subject_id', 191).notNullable();
    t.string('reason', 512).nullable();
    t.text('detail').nullable();
    t.index(['subject_type', 'subject_id'], 'audit_subject_idx');
    t.index(['at'], 'audit_at_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  for (const t of ['audit', 'crl_state', 'key_pool', 'escrowed_keys', 'certificates']) await db.schema.dropTable(t);
}
