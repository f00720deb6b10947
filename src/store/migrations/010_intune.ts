/**
 * Intune has no enrollment webhooks: its connector lists managed devices
 * and compares the listing with the devices it knew. That set, and whether a
 * complete listing was ever taken (the first one decides how devices
 * already enrolled are treated), survive restarts here.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('intune_devices', (t) => {
    t.string('connector_id', 64).notNullable();
    t.string('device_id', 191).notNullable();
    // enrolledDateTime as Intune gave it: a new value for a known id is a new enrollment
    t.string('enrolled_at', 64).notNullable();
    t.bigInteger('seen_at').notNullable();
    t.primary(['connector_id', 'device_id']);
  });
  await db.schema.createTable('intune_listings', (t) => {
    t.string('connector_id', 64).notNullable().primary();
    // the last complete managedDevices listing
    t.bigInteger('completed_at').notNullable();
    t.integer('devices').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  for (const t of ['intune_listings', 'intune_devices']) await db.schema.dropTable(t);
}
