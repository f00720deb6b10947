/**
 * Certificates issued elsewhere that an administrator uploaded for a person
 * with their key (src/identity/unmanaged-certificates.ts). The certificate
 * itself is in `certificates` under the CA name "(unmanaged)", and its key
 * sealed in `escrowed_keys` like every escrowed key; this table says whose
 * it is, what it is for, where it came from and whether a newer upload
 * for the same person and purpose superseded it.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('unmanaged_certificates', (t) => {
    t.string('serial', 40).primary().references('serial').inTable('certificates');
    t.string('user_id', 191).notNullable();
    // authentication | signing | encryption
    t.string('purpose', 16).notNullable();
    // current | superseded
    t.string('state', 16).notNullable();
    t.string('issuer', 1024).notNullable();
    // JSON array of the issuers' certificates (base64 DER, nearest first) that came in the file
    t.text('chain').notNullable();
    t.string('uploaded_by', 191).notNullable();
    t.bigInteger('uploaded_at').notNullable();
    t.bigInteger('superseded_at').nullable();
    t.index(['user_id', 'purpose', 'state'], 'unmanaged_certificates_user_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('unmanaged_certificates');
}
