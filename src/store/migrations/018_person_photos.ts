/**
 * Badges: a person's job title, and their photo. The photo is the image the
 * gateway re-encoded from an upload (metadata stripped), kept as base64 text
 * like the other binary values (mediumtext on MySQL: up to 16 MiB, well
 * above badges.photos.maxBytes); one per person.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('people', (t) => {
    t.string('title', 128).nullable();
  });
  await db.schema.createTable('person_photos', (t) => {
    t.string('user_id', 36).primary();
    t.string('content_type', 16).notNullable(); // image/png or image/jpeg
    t.text('data', 'mediumtext').notNullable(); // base64
    t.integer('width').notNullable();
    t.integer('height').notNullable();
    t.integer('bytes').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('updated_by', 191).notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('person_photos');
  await db.schema.alterTable('people', (t) => {
    t.dropColumn('title');
  });
}
