/**
 * People's titles and photos (migration 018) on SQLite and MariaDB alike: a
 * photo of several MiB round-trips byte for byte (MySQL's plain TEXT would
 * stop at 64 KiB), replacing one keeps one row, and the photo service
 * refuses without writing anything, audits what it writes, and never puts
 * the image in the audit trail.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { Photos } from '../../src/identity/photos.js';
import { AuditRepository } from '../../src/store/audit.js';
import { migrate, type Db } from '../../src/store/db.js';
import { PersonRepository } from '../../src/store/people.js';
import { PersonPhotoRepository } from '../../src/store/person-photos.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

for (const backend of STORE_BACKENDS) {
  describe(`people's titles and photos on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let people: PersonRepository;
    let photos: PersonPhotoRepository;
    let audit: AuditRepository;

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      await migrate(db);
      people = new PersonRepository(db);
      photos = new PersonPhotoRepository(db);
      audit = new AuditRepository(db);
    });
    after(async () => {
      await close();
    });

    const person = async (userName: string, title?: string) => {
      const id = randomUUID();
      await people.insert(db, id, { userName, displayName: userName, email: null, mobile: null, upn: null, groups: [], roles: [], ...(title && { title }) });
      return id;
    };

    test('a title is kept, and none is null', async () => {
      const a = await person(`t-${randomBytes(3).toString('hex')}`, 'Head of Payments');
      const b = await person(`t-${randomBytes(3).toString('hex')}`);
      assert.equal((await people.get(a))?.title, 'Head of Payments');
      assert.equal((await people.get(b))?.title, null);
    });

    test('a photo of several MiB round-trips byte for byte; a second replaces the first; delete removes it', async () => {
      const id = await person(`p-${randomBytes(3).toString('hex')}`);
      const big = randomBytes(3 * 1024 * 1024);
      const row = {
        userId: id,
        contentType: 'image/jpeg' as const,
        width: 10,
        height: 20,
        bytes: big.length,
        sha256: 'a'.repeat(64),
        updatedBy: 'test',
        updatedAt: 1,
      };
      await db.transaction((trx) => photos.put(trx, { ...row, data: big }));
      assert.deepEqual((await photos.get(id))?.data, big);
      await db.transaction((trx) => photos.put(trx, { ...row, data: Buffer.from('second'), updatedAt: 2 }));
      assert.equal((await photos.get(id))?.data.toString(), 'second');
      assert.equal(((await db('person_photos').where({ user_id: id }).count({ n: '*' })) as { n: number }[])[0]!.n, 1);
      assert.equal(await photos.delete(db, id), true);
      assert.equal(await photos.delete(db, id), false);
      assert.equal(await photos.get(id), undefined);
    });

    test('the photo service stores what it re-encoded and audits it; a refusal writes nothing', async () => {
      const userName = `s-${randomBytes(3).toString('hex')}`;
      const id = await person(userName);
      const service = new Photos({ db, people, photos, audit, limits: { maxBytes: 1024 * 1024, maxPixels: 1_000_000, size: 256 } });
      const png = await sharp({ create: { width: 512, height: 300, channels: 4, background: '#336699' } })
        .png()
        .toBuffer();
      const info = await service.set(userName, png, 'image/png', 'test:op');
      assert.deepEqual([info.contentType, info.width, info.height], ['image/png', 256, 150]);
      const stored = (await photos.get(id))!;
      assert.equal(stored.sha256, info.sha256);
      assert.deepEqual(
        await sharp(stored.data)
          .metadata()
          .then((m) => [m.format, m.width, m.height]),
        ['png', 256, 150],
      );

      const before = await audit.list({ subjectId: id, limit: 10 });
      await assert.rejects(service.set(userName, Buffer.from('GIF89a...'), 'image/png', 'test:op'), /not a PNG or JPEG image/);
      await assert.rejects(service.set(userName, png, 'image/gif', 'test:op'), /image\/png or image\/jpeg, not image\/gif/);
      await assert.rejects(service.set(userName, Buffer.alloc(2 * 1024 * 1024), 'image/png', 'test:op'), (err: Error & { code?: string }) => {
        return err.code === 'payload_too_large';
      });
      assert.equal((await photos.get(id))?.sha256, info.sha256, 'unchanged');
      assert.equal((await audit.list({ subjectId: id, limit: 10 })).length, before.length, 'nothing audited for refusals');
      const [entry] = before;
      assert.equal(entry?.action, 'user.photo.set');
      assert.ok(!JSON.stringify(entry).includes(stored.data.toString('base64').slice(0, 32)));
    });
  });
}
