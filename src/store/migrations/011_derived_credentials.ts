/**
 * Derived credentials: the PIV cards people proved their identity with, and
 * which mobile IDs were derived from which card, so a card reported
 * cancelled revokes what was derived from it, and a new derivation
 * supersedes the previous one. People are looked up by UPN from the card.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('piv_cards', (t) => {
    t.string('id', 36).primary();
    // The card's PIV Authentication certificate: issuer DN as printed by OpenSSL, serial as normalized hex.
    t.string('issuer', 1024).notNullable();
    t.string('serial', 64).notNullable();
    // SHA-256 of the certificate; null for a card reported cancelled by issuer and serial before it was ever seen.
    t.string('fingerprint', 64).nullable().unique();
    t.string('subject', 1024).nullable();
    t.bigInteger('not_after').nullable();
    t.string('user_id', 36).nullable();
    t.string('status', 16).notNullable(); // active -> cancelled
    t.string('cancel_reason', 32).nullable();
    t.string('cancelled_by', 191).nullable();
    t.bigInteger('cancelled_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    // Serials of different CAs may collide: the issuer is compared after the lookup.
    t.index(['serial'], 'piv_cards_serial_idx');
  });

  await db.schema.createTable('derived_credentials', (t) => {
    t.string('mobile_id', 36).primary();
    t.string('card_id', 36).notNullable();
    t.string('user_id', 36).notNullable();
    // When the user should derive anew (a share of the certificates' lifetime), and when they were told.
    t.bigInteger('rederive_at').nullable();
    t.bigInteger('rederive_notice_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['card_id', 'created_at'], 'derived_credentials_card_idx');
    t.index(['rederive_at'], 'derived_credentials_rederive_idx');
  });

  // The card's UPN or email finds its holder, compared without case: MariaDB's collation ignores case; SQLite's indexes must say so.
  if (db.client.config.client === 'mysql2') {
    await db.schema.alterTable('people', (t) => {
      t.index(['upn'], 'people_upn_idx');
    });
  } else {
    await db.raw('CREATE INDEX people_upn_idx ON people (upn COLLATE NOCASE)');
    await db.raw('CREATE INDEX people_email_nocase_idx ON people (email COLLATE NOCASE)');
  }
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('people', (t) => {
    t.dropIndex([], 'people_upn_idx');
    if (db.client.config.client !== 'mysql2') t.dropIndex([], 'people_email_nocase_idx');
  });
  for (const table of ['derived_credentials', 'piv_cards']) await db.schema.dropTable(table);
}
