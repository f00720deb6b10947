/** PIV cards, derived credentials and people by UPN or email on SQLite and MariaDB. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/store/db.js';
import { DerivedCredentialRepository } from '../../src/store/derived-credentials.js';
import { MobileIdRepository } from '../../src/store/mobile-ids.js';
import { PersonRepository } from '../../src/store/people.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

for (const backend of STORE_BACKENDS) {
  describe(`derived-credential store on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let repo: DerivedCredentialRepository;
    let ids: MobileIdRepository;
    let people: PersonRepository;
    const userId = randomUUID();

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      repo = new DerivedCredentialRepository(db);
      ids = new MobileIdRepository(db);
      people = new PersonRepository(db);
      const fields = { displayName: 'Jane', mobile: null, groups: [], roles: [] };
      await people.insert(db, userId, { ...fields, userName: 'jane', email: 'Jane@Example.com', upn: 'Jane.Smith@Corp.Example.com' });
      await people.insert(db, randomUUID(), { ...fields, userName: 'jane2', email: 'jane@example.com', upn: null });
    });
    after(async () => {
      await close?.();
    });

    test('people are found by UPN and email without regard to case; a shared email finds both', async () => {
      assert.deepEqual(
        (await people.byDirectoryName('upn', 'jane.smith@corp.example.com')).map((p) => p.userName),
        ['jane'],
      );
      assert.deepEqual(
        (await people.byDirectoryName('email', 'JANE@example.com')).map((p) => p.userName),
        ['jane', 'jane2'],
      );
      assert.deepEqual(await people.byDirectoryName('upn', 'nobody@corp.example.com'), []);
    });

    test('cards: found by fingerprint or serial; a fingerprint is unique; cancelled once', async () => {
      const id = randomUUID();
      const card = {
        id,
        issuer: 'C=US, O=Example Agency, CN=Example PIV CA',
        serial: '0a1b',
        fingerprint: 'ab'.repeat(32),
        subject: 'CN=JANE',
        notAfter: 2_000_000_000_000,
        userId,
        status: 'active' as const,
      };
      await repo.insertCard(db, card);
      assert.equal((await repo.cardByFingerprint('ab'.repeat(32)))?.id, id);
      assert.deepEqual(
        (await repo.cardsBySerial('0a1b')).map((c) => c.id),
        [id],
      );
      await assert.rejects(repo.insertCard(db, { ...card, id: randomUUID() }), 'one row per certificate');
      assert.equal(await db.transaction((trx) => repo.cancelCard(trx, id, 'cessationOfOperation', 'bearer:cms')), true);
      assert.equal(await db.transaction((trx) => repo.cancelCard(trx, id, 'keyCompromise', 'bearer:cms')), false);
      const c = (await repo.card(id))!;
      assert.deepEqual([c.status, c.cancelReason, c.cancelledBy], ['cancelled', 'cessationOfOperation', 'bearer:cms']);
      const reported = randomUUID();
      await repo.insertCard(db, { ...card, id: reported, serial: '0a1c', fingerprint: null, subject: null, notAfter: null, userId: null });
      await repo.insertCard(db, { ...card, id: randomUUID(), serial: '0a1d', fingerprint: null, subject: null, notAfter: null, userId: null });
      await repo.completeCard(db, reported, { fingerprint: 'cd'.repeat(32), subject: 'CN=X', notAfter: 1, userId });
      assert.equal((await repo.cardByFingerprint('cd'.repeat(32)))?.id, reported, 'cards reported by serial alone may be many without a fingerprint');
    });

    test('derived credentials: with their mobile ID, counted per card, unsettled until the superseded one is cancelled and the re-derive date set', async () => {
      const cardId = randomUUID();
      await repo.insertCard(db, {
        id: cardId,
        issuer: 'CN=CA',
        serial: '01',
        fingerprint: 'ef'.repeat(32),
        subject: 'CN=J',
        notAfter: null,
        userId,
        status: 'active',
      });
      const made = async (replaces: string | null, at: number) => {
        const id = randomUUID();
        await ids.insert(
          db,
          { id, userId, credentialProfile: 'derived', status: 'ready', codeDigest: 'x', requestedBy: 'piv-card:x', replaces, expiresAt: at + 1000 },
          at,
        );
        await repo.insert(db, { mobileId: id, cardId, userId }, at);
        return id;
      };
      const now = Date.now();
      const old = await made(null, now - 3 * 86_400_000);
      const fresh = await made(old, now);
      assert.equal(await repo.countSince(cardId, now - 86_400_000), 1);
      assert.deepEqual(
        (await repo.list({ cardId })).map((d) => [d.mobileId, d.replaces]),
        [
          [fresh, old],
          [old, null],
        ],
      );
      await db('mobile_ids').whereIn('id', [old, fresh]).update({ status: 'issued' });
      assert.deepEqual((await repo.unsettled()).map((d) => d.mobileId).sort(), [old, fresh].sort());
      await repo.setRederiveAt(db, old, now + 10);
      await repo.setRederiveAt(db, fresh, now + 20);
      assert.deepEqual(
        (await repo.unsettled()).map((d) => d.mobileId),
        [fresh],
        'the one it supersedes is still issued',
      );
      await db('mobile_ids').where({ id: old }).update({ status: 'cancelled' });
      assert.deepEqual(await repo.unsettled(), []);
      assert.deepEqual(
        (await repo.dueForRederiveNotice(now + 15)).map((d) => d.mobileId),
        [],
        'cancelled ones are not told',
      );
      assert.deepEqual(
        (await repo.dueForRederiveNotice(now + 25)).map((d) => d.mobileId),
        [fresh],
      );
      assert.equal(await db.transaction((trx) => repo.markRederiveNotice(trx, fresh)), true);
      assert.equal(await db.transaction((trx) => repo.markRederiveNotice(trx, fresh)), false);
      assert.deepEqual(await repo.dueForRederiveNotice(now + 25), []);
      await db('mobile_ids')
        .where({ id: fresh })
        .update({ not_after: now + 1000 });
      assert.ok((await ids.dueForRenewalNotice(now + 2000)).some((m) => m.id === fresh));
      assert.ok(!(await ids.dueForRenewalNotice(now + 2000, ['derived'])).some((m) => m.id === fresh), 'no renewal notice for derived credentials');
    });
  });
}
