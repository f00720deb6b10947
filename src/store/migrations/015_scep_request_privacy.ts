/**
 * SCEP requests waiting for an operator no longer keep their
 * challengePassword: `csr` holds the request without it, and the original
 * (which an MDM that validated the challenge, Intune, must be told about
 * with the decision) is sealed under the master key in `csr_sealed`.
 * Challenges can bind the whole subject (`binding_exact`, iOS OTA).
 *
 * Requests already pending are rewritten without their challengePassword.
 */
import type { Knex } from 'knex';
import { withoutChallengePassword } from '../../pki/csr-redaction.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_transactions', (t) => {
    t.text('csr_sealed').nullable();
    t.string('kek_id', 16).nullable();
  });
  await db.schema.alterTable('scep_challenges', (t) => {
    t.boolean('binding_exact').notNullable().defaultTo(false);
  });
  const pending = (await db('scep_transactions').whereNotNull('csr').select('id', 'csr')) as { id: number; csr: string }[];
  for (const row of pending) {
    await db('scep_transactions')
      .where({ id: row.id })
      .update({ csr: withoutChallengePassword(Buffer.from(row.csr, 'base64')).toString('base64') });
  }
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('scep_challenges', (t) => t.dropColumn('binding_exact'));
  await db.schema.alterTable('scep_transactions', (t) => {
    t.dropColumn('kek_id');
    t.dropColumn('csr_sealed');
  });
}
