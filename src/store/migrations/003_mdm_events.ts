/**
 * MDM events as received (deduplicated per connector), the device → user
 * mapping connectors learn from them, and deliveries of credential sets to
 * an MDM. A delivery's payload (PKCS#12 files) is wrapped under the master
 * key and erased once the MDM has it.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('mdm_events', (t) => {
    t.bigIncrements('id').primary();
    t.string('connector_id', 64).notNullable();
    // enrolled | unenrolled | wiped | compliance-changed | unknown
    t.string('type', 32).notNullable();
    t.string('vendor_type', 128).notNullable();
    t.string('dedupe_key', 191).notNullable();
    t.string('device_id', 191).nullable();
    t.text('user').notNullable(); // JSON
    t.text('device').notNullable(); // JSON
    t.text('payload').notNullable(); // the vendor event, JSON
    t.bigInteger('occurred_at').notNullable();
    t.bigInteger('received_at').notNullable();
    t.unique(['connector_id', 'dedupe_key'], { indexName: 'mdm_events_dedupe_idx' });
    t.index(['connector_id', 'device_id'], 'mdm_events_device_idx');
  });

  await db.schema.createTable('device_users', (t) => {
    t.string('connector_id', 64).notNullable();
    t.string('device_id', 191).notNullable();
    t.text('user').notNullable(); // JSON
    t.bigInteger('updated_at').notNullable();
    t.primary(['connector_id', 'device_id']);
  });

  await db.schema.createTable('deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.string('connector_id', 64).notNullable();
    t.bigInteger('event_id').nullable().unique();
    t.string('device_id', 191).nullable();
    t.string('user_id', 191).nullable();
    // pending -> delivered | failed
    t.string('status', 16).notNullable();
    t.text('serials').notNullable(); // JSON: certificates in this delivery
    t.string('kek_id', 16).nullable();
    t.text('wrapped_payload').nullable();
    t.text('receipt').nullable(); // JSON DeliveryReceipt
    t.text('last_error').nullable();
    // earliest notAfter of the current (not archived) credentials
    t.bigInteger('expires_at').nullable();
    // the delivery this one renews, and when this one was renewed
    t.bigInteger('renews').nullable();
    t.bigInteger('renewed_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('delivered_at').nullable();
    t.index(['connector_id', 'device_id'], 'deliveries_device_idx');
    t.index(['connector_id', 'status', 'expires_at'], 'deliveries_expiry_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  for (const t of ['deliveries', 'device_users', 'mdm_events']) await db.schema.dropTable(t);
}
