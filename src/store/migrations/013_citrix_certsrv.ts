/**
 * Citrix connector: requests XenMobile submitted to the certsrv endpoint (the
 * request id it fetches the certificate by, one row per issued certificate,
 * written in the issuance transaction), and the XenMobile devices the poller
 * has seen, so a retirement or removal is noticed once, across restarts.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('citrix_certsrv_requests', (t) => {
    // The ADCS-style request id (ReqID) XenMobile scrapes and fetches by.
    t.bigIncrements('id').primary();
    t.string('connector_id', 64).notNullable();
    t.string('serial', 64).notNullable().unique();
    // CertificateTemplate as XenMobile named it, and the credgate template it maps to
    t.string('adcs_template', 128).notNullable();
    t.string('template', 64).notNullable();
    t.string('requester', 191).notNullable();
    t.string('device_id', 191).nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['connector_id', 'id'], 'citrix_certsrv_requests_connector_idx');
  });

  await db.schema.createTable('citrix_devices', (t) => {
    t.string('connector_id', 64).notNullable();
    // XenMobile's own device id
    t.string('xm_id', 64).notNullable();
    // active | retired | gone (no longer listed)
    t.string('state', 16).notNullable();
    // counts departures (retired or gone), so a device that returns and leaves again gets a new event
    t.integer('departures').notNullable().defaultTo(0);
    t.text('device').notNullable(); // JSON: what the last listing said
    t.bigInteger('updated_at').notNullable();
    t.primary(['connector_id', 'xm_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('citrix_devices');
  await db.schema.dropTable('citrix_certsrv_requests');
}
