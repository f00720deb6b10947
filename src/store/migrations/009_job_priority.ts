/**
 * Job priority: work that finishes something already started (delivering
 * issued credentials) runs before work that starts something new
 * (enrollment events), so a burst of enrollments does not hold back the
 * deliveries of the ones already issued.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('jobs', (t) => {
    t.integer('priority').notNullable().defaultTo(0);
  });
  // Claims read this index in their own order (priority DESC, available_at), so
  // MariaDB locks only the rows it hands out. It replaces jobs_claim_idx, which
  // the optimizer might otherwise pick and then sort, locking every due row.
  await db.raw('CREATE INDEX jobs_priority_claim_idx ON jobs (priority DESC, available_at)');
  await db.schema.alterTable('jobs', (t) => {
    t.dropIndex([], 'jobs_claim_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('jobs', (t) => {
    t.dropIndex([], 'jobs_priority_claim_idx');
    t.index(['available_at'], 'jobs_claim_idx');
  });
  await db.schema.alterTable('jobs', (t) => {
    t.dropColumn('priority');
  });
}
