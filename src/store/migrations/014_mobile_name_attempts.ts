/**
 * Wrong one-time codes given with a user name rather than the request id
 * (src/identity/request-opener.ts). Counted apart from failed_attempts:
 * anyone may know a user name, so these never lock the request; past
 * mobile.maxCodeAttempts the request no longer opens by user name.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('mobile_ids', (t) => {
    t.integer('failed_name_attempts').notNullable().defaultTo(0);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('mobile_ids', (t) => {
    t.dropColumn('failed_name_attempts');
  });
}
