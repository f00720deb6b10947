/** People, devices, mobile IDs and sessions on SQLite and MariaDB. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/store/db.js';
import { DeviceRepository } from '../../src/store/devices.js';
import { MessageTemplateRepository } from '../../src/store/message-templates.js';
import { MobileIdRepository } from '../../src/store/mobile-ids.js';
import { MobileSessionRepository } from '../../src/store/mobile-sessions.js';
import { PersonRepository, type PersonFields } from '../../src/store/people.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

const person = (userName: string, extra: Partial<PersonFields> = {}): PersonFields => ({
  userName,
  displayName: userName.toUpperCase(),
  email: `${userName}@example.com`,
  mobile: null,
  upn: null,
  groups: [],
  roles: [],
  ...extra,
});

for (const backend of STORE_BACKENDS) {
  describe(`mobile identity store on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let people: PersonRepository;
    let devices: DeviceRepository;

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      people = new PersonRepository(db);
      devices = new DeviceRepository(db);
    });
    after(async () => {
      await close();
    });

    test('people: user names are unique; found by id, user name, prefix, group and role (literally, not as patterns)', async () => {
      const jane = randomUUID();
      await people.insert(db, jane, person('jane.smith', { displayName: 'Jane Smith', groups: ['Finance', 'All_Staff'], roles: ['mobile-user'] }));
      await people.insert(db, randomUUID(), person('john', { displayName: 'John Doe', groups: ['AllXStaff'], roles: ['operator'] }));
      await assert.rejects(people.insert(db, randomUUID(), person('jane.smith')), 'the user name is unique');
      assert.equal((await people.find(jane))?.userName, 'jane.smith');
      assert.equal((await people.find('jane.smith'))?.id, jane);
      assert.deepEqual((await people.find('jane.smith'))?.groups, ['Finance', 'All_Staff']);
      assert.deepEqual(
        (await people.list({ q: 'JANE' })).map((p) => p.userName),
        ['jane.smith'],
        'prefix, case-insensitive',
      );
      assert.deepEqual(
        (await people.list({ q: 'John D' })).map((p) => p.userName),
        ['john'],
        'display name prefix',
      );
      assert.deepEqual(
        (await people.list({ group: 'All_Staff' })).map((p) => p.userName),
        ['jane.smith'],
        '_ is not a wildcard',
      );
      assert.deepEqual(
        (await people.list({ group: 'Fin' })).map((p) => p.userName),
        [],
        'whole group names only',
      );
      assert.deepEqual(
        (await people.list({ role: 'operator' })).map((p) => p.userName),
        ['john'],
      );
      assert.deepEqual(
        (await people.list({ q: '%' })).map((p) => p.userName),
        [],
        '% is not a wildcard',
      );
      const page1 = await people.list({ limit: 1 });
      const page2 = await people.list({ limit: 1, after: page1[0]!.userName });
      assert.notEqual(page1[0]!.userName, page2[0]!.userName);
      await people.update(db, jane, person('jane.smith', { mobile: '+447700900123' }));
      assert.equal((await people.get(jane))?.mobile, '+447700900123');
    });

    test('devices: serials are unique; listed by owner and status', async () => {
      const owner = randomUUID();
      await people.insert(db, owner, person('owner1'));
      const id = randomUUID();
      await devices.insert(db, id, { serial: 'F2LX1234ABCD', platform: 'ios', model: 'iPhone12,1', osVersion: '17.4', ownerId: owner });
      await assert.rejects(devices.insert(db, randomUUID(), { serial: 'F2LX1234ABCD', platform: 'android', model: null, osVersion: null, ownerId: null }));
      assert.equal((await devices.bySerial('F2LX1234ABCD'))?.id, id);
      assert.equal((await devices.get(id))?.status, 'registered');
      assert.deepEqual(
        (await devices.list({ ownerId: owner })).map((d) => d.serial),
        ['F2LX1234ABCD'],
      );
      await devices.setStatus(db, id, 'issued');
      assert.deepEqual(
        (await devices.list({ status: 'issued' })).map((d) => d.id),
        [id],
      );
      assert.equal((await devices.bySerials(['F2LX1234ABCD', 'NOPE'])).size, 1);
    });

    test('mobile IDs: wrong codes lock at exactly the limit, even when guessed concurrently; a code is claimed once', async () => {
      const ids = new MobileIdRepository(db);
      const add = async (expiresAt = Date.now() + 60_000) => {
        const id = randomUUID();
        await ids.insert(db, {
          id,
          userId: randomUUID(),
          credentialProfile: 'smime',
          status: 'ready',
          codeDigest: 'ab'.repeat(32),
          requestedBy: 'test',
          replaces: null,
          expiresAt,
        });
        return id;
      };
      const guessed = await add();
      const results = await Promise.all(Array.from({ length: 8 }, () => ids.recordWrongCode(guessed, 5)));
      assert.equal(results.filter((r) => r !== undefined).length, 5, 'only five guesses counted');
      assert.equal(results.filter((r) => r?.locked).length, 1, 'one guess locked it');
      const locked = (await ids.get(guessed))!;
      assert.deepEqual([locked.status, locked.failedAttempts], ['locked', 5]);
      assert.equal(await ids.codeDigest(guessed), undefined, 'a locked request has no usable code');

      const claimed = await add();
      assert.equal(await ids.codeDigest(claimed), 'ab'.repeat(32));
      const claims = await Promise.all([ids.claim(db, claimed, 'dev-1'), ids.claim(db, claimed, 'dev-2')]);
      assert.deepEqual(claims.sort(), [false, true]);
      const m = (await ids.get(claimed))!;
      assert.equal(m.status, 'collecting');
      assert.equal(await ids.codeDigest(claimed), undefined, 'the code is cleared');
      assert.equal(await ids.recordIssued(db, claimed, ['0a', '0b'], 1_900_000_000_000), true);
      assert.equal(await ids.transition(db, claimed, ['collecting'], 'issued', { issuedAt: Date.now() }), true);
      assert.equal(await ids.recordIssued(db, claimed, ['0c'], null), false, 'only while collecting');
      assert.deepEqual((await ids.dueForRenewalNotice(2_000_000_000_000)).map((d) => d.id).includes(claimed), true);
      assert.equal(await ids.markRenewalNotice(db, claimed), true);
      assert.equal(await ids.markRenewalNotice(db, claimed), false, 'once');
      assert.equal(await ids.claim(db, await add(Date.now() - 1), 'dev-3'), false, 'an expired request cannot be claimed');
    });

    test('mobile IDs: wrong codes by user name count to the limit, even concurrently, and never lock; only usable codes are offered', async () => {
      const ids = new MobileIdRepository(db);
      const userId = randomUUID();
      const add = async (status: 'ready' | 'awaiting-validation', expiresAt = Date.now() + 60_000) => {
        const id = randomUUID();
        await ids.insert(db, {
          id,
          userId,
          credentialProfile: 'smime',
          status,
          codeDigest: status === 'ready' ? 'cd'.repeat(32) : null,
          requestedBy: 'test',
          replaces: null,
          expiresAt,
        });
        return id;
      };
      const ready = await add('ready');
      await add('ready', Date.now() - 1);
      await add('awaiting-validation');
      assert.deepEqual(
        await ids.usableCodes(userId),
        [{ id: ready, credentialProfile: 'smime', codeDigest: 'cd'.repeat(32), failedNameAttempts: 0 }],
        'neither the expired nor the unvalidated one',
      );
      assert.deepEqual(await ids.usableCodes(randomUUID()), []);

      const counted = await Promise.all(Array.from({ length: 8 }, () => ids.recordWrongNameCode(userId, 5)));
      assert.equal(
        counted.reduce((a, b) => a + b, 0),
        5,
        'only five counted',
      );
      const m = (await ids.get(ready))!;
      assert.deepEqual([m.status, m.failedNameAttempts, m.failedAttempts], ['ready', 5, 0], 'not locked, and its own attempts untouched');
      assert.equal((await ids.usableCodes(userId))[0]?.failedNameAttempts, 5);
      assert.equal(await ids.recordWrongNameCode(randomUUID(), 5), 0);
    });

    test('sessions count while open and unexpired; delivery is marked once; templates are replaced', async () => {
      const sessions = new MobileSessionRepository(db);
      const before = await sessions.countActive();
      const id = randomUUID();
      const mobileId = randomUUID();
      await sessions.insert(db, {
        id,
        tokenDigest: randomUUID().replace(/-/g, ''),
        mobileId,
        deviceId: 'd',
        keyStores: ['citrix-securevault'],
        expiresAt: Date.now() + 60_000,
      });
      await sessions.insert(db, {
        id: randomUUID(),
        tokenDigest: randomUUID().replace(/-/g, ''),
        mobileId: 'other',
        deviceId: 'd',
        keyStores: [],
        expiresAt: Date.now() - 1,
      });
      assert.equal(await sessions.countActive(), before + 1, 'an expired session does not count');
      assert.equal(await sessions.markFetched(db, id), true);
      assert.equal(await sessions.markFetched(db, id), false);
      await sessions.releaseFetch(id);
      assert.equal(await sessions.markFetched(db, id), true, 'a failed delivery may be fetched again');
      await sessions.endFor(db, mobileId);
      assert.equal(await sessions.countActive(), before);

      const templates = new MessageTemplateRepository(db);
      await templates.put(db, { name: 'renewal-sms', subject: null, body: 'one', updatedBy: 'a' });
      await templates.put(db, { name: 'renewal-sms', subject: null, body: 'two', updatedBy: 'b' });
      assert.equal((await templates.get('renewal-sms'))?.body, 'two');
      assert.equal(await templates.remove(db, 'renewal-sms'), true);
      assert.equal(await templates.get('renewal-sms'), undefined);
    });
  });
}
