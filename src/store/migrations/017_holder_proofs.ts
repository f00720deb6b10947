/**
 * Holder proofs already used (src/identity/holder-auth.ts): a mobile ID's
 * holder signs a short-lived proof for each request, and its jti is kept
 * until the proof expires so that a captured proof cannot be sent again, on
 * this instance or another sharing the database.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('holder_proofs', (t) => {
    // SHA-256 (hex) of the mobile ID and the jti: fixed length whatever jti the app chose.
    t.string('digest', 64).primary();
    t.string('mobile_id', 36).notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at'], 'holder_proofs_expires_at');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('holder_proofs');
}
