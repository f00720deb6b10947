/**
 * iOS over-the-air enrollments: one row per enrollment an operator
 * authorised, from its one-time code (kept only as an HMAC) through the
 * device that claimed it to the certificates it received.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('ota_enrollments', (t) => {
    t.string('id', 36).primary();
    t.string('code_digest', 64).notNullable().unique();
    t.string('credential_profile', 64).notNullable();
    t.string('user_id', 191).nullable();
    t.text('user').notNullable(); // JSON: template data for the user's certificates
    // pending -> device-bound -> issuing -> completed
    t.string('status', 16).notNullable();
    t.string('created_by', 191).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    // The device, from its signed attributes (phase 2)
    t.string('udid', 64).nullable();
    t.string('serial_number', 64).nullable();
    t.string('product', 64).nullable();
    t.string('os_version', 32).nullable();
    t.string('imei', 32).nullable();
    t.text('device').nullable(); // JSON: every attribute the device sent, CHALLENGE left out
    t.bigInteger('bound_at').nullable();
    // The SCEP identity that signed phase 3, and what was issued then
    t.string('device_cert_serial', 64).nullable();
    t.text('issued_serials').nullable(); // JSON array
    t.bigInteger('completed_at').nullable();
    t.index(['user_id'], 'ota_enrollments_user_idx');
    t.index(['udid'], 'ota_enrollments_udid_idx');
    t.index(['status', 'expires_at'], 'ota_enrollments_status_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('ota_enrollments');
}
