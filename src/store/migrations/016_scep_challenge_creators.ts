/**
 * Challenges are found by who made them: an OTA device that starts its
 * enrollment again gets a new one, and the unused ones made for it before
 * stop working (src/protocols/scep/challenges.ts, reissue).
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_challenges', (t) => {
    t.index(['profile', 'created_by'], 'scep_challenges_creator');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_challenges', (t) => {
    t.dropIndex(['profile', 'created_by'], 'scep_challenges_creator');
  });
}
