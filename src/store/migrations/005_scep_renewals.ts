/**
 * A renewal may reuse its first enrollment's transactionID: micromdm's
 * scepclient derives the ID from the key, which a renewal keeps. A
 * transaction is therefore (profile, transactionID, certificate renewed),
 * with '' for first enrollments, so each renewal gets its own answer while
 * resends of any one request still get the same.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_transactions', (t) => {
    t.dropUnique(['profile', 'transaction_id'], 'scep_transactions_tid_idx');
  });
  await db.schema.alterTable('scep_transactions', (t) => {
    // Serial of the certificate that signed a RenewalReq; '' otherwise.
    t.string('renews', 64).notNullable().defaultTo('');
  });
  await db.schema.alterTable('scep_transactions', (t) => {
    t.unique(['profile', 'transaction_id', 'renews'], { indexName: 'scep_transactions_request_idx' });
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_transactions', (t) => {
    t.dropUnique(['profile', 'transaction_id', 'renews'], 'scep_transactions_request_idx');
  });
  await db.schema.alterTable('scep_transactions', (t) => {
    t.dropColumn('renews');
  });
  await db.schema.alterTable('scep_transactions', (t) => {
    t.unique(['profile', 'transaction_id'], { indexName: 'scep_transactions_tid_idx' });
  });
}
