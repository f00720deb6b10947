/**
 * Mobile identities: the people and devices the gateway knows, mobile-ID
 * requests with their one-time codes (kept only as HMACs) through to the
 * credential on a device, Identity Agent sessions, and the editable texts
 * of renewal notices.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('people', (t) => {
    t.string('id', 36).primary();
    t.string('user_name', 191).notNullable().unique();
    t.string('display_name', 256).notNullable();
    t.string('email', 254).nullable();
    t.string('mobile', 32).nullable();
    t.string('upn', 256).nullable();
    t.text('group_names').notNullable(); // JSON array
    t.text('role_names').notNullable(); // JSON array
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['email'], 'people_email_idx');
  });

  await db.schema.createTable('devices', (t) => {
    t.string('id', 36).primary();
    t.string('serial', 64).notNullable().unique();
    t.string('platform', 16).notNullable();
    t.string('model', 128).nullable();
    t.string('os_version', 64).nullable();
    t.string('owner_id', 36).nullable();
    // registered (known mobile) -> issued (holds a mobile ID) -> cancelled
    t.string('status', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['owner_id'], 'devices_owner_idx');
  });

  await db.schema.createTable('mobile_ids', (t) => {
    t.string('id', 36).primary();
    t.string('user_id', 36).notNullable();
    t.string('credential_profile', 64).notNullable();
    // awaiting-validation -> ready -> collecting -> issued <-> disabled; cancelled, locked and expired end it
    t.string('status', 24).notNullable();
    t.string('code_digest', 64).nullable(); // HMAC of the one-time code; cleared once used
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.string('requested_by', 191).notNullable();
    t.string('validated_by', 191).nullable();
    t.string('device_id', 36).nullable();
    t.text('serials').nullable(); // JSON array: certificates delivered with this mobile ID
    t.string('replaces', 36).nullable();
    t.bigInteger('expires_at').notNullable(); // of the request; issued IDs live by their certificates
    t.bigInteger('not_after').nullable(); // earliest notAfter of the new certificates
    t.bigInteger('renewal_notice_at').nullable();
    t.bigInteger('issued_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['user_id', 'status'], 'mobile_ids_user_idx');
    t.index(['status', 'not_after'], 'mobile_ids_status_idx');
  });

  await db.schema.createTable('mobile_sessions', (t) => {
    t.string('id', 36).primary();
    t.string('token_digest', 64).notNullable().unique();
    t.string('mobile_id', 36).notNullable();
    t.string('device_id', 36).notNullable();
    t.text('key_stores').notNullable(); // JSON array the device reported
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('fetched_at').nullable();
    t.bigInteger('ended_at').nullable();
    t.index(['ended_at', 'expires_at'], 'mobile_sessions_active_idx');
  });

  await db.schema.createTable('message_templates', (t) => {
    t.string('name', 64).primary();
    t.string('subject', 256).nullable();
    t.text('body').notNullable();
    t.string('updated_by', 191).notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['message_templates', 'mobile_sessions', 'mobile_ids', 'devices', 'people']) await db.schema.dropTable(table);
}
