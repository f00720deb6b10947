/** People, devices, mobile IDs and sessions on SQLite and MariaDB. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate, openDb, type Db, type DbSettings } from '../../src/store/db.js';
import { DeviceRepository } from '../../src/store/devices.js';
import { PersonRepository, type PersonFields } from '../../src/store/people.js';
import { freshMysqlDatabase } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/tmp.js';

const backends: { name: string; open: () => Promise<{ settings: DbSettings; cleanup: () => Promise<void> }> }[] = [
  { name: 'sqlite', open: async () => ({ settings: { client: 'sqlite', filename: join(tempDir(), 'mobile.db') }, cleanup: async () => undefined }) },
  {
    name: 'mariadb',
    open: async () => {
      const database = await freshMysqlDatabase();
      return { settings: { client: 'mysql', url: database.url, pool: { min: 0, max: 5 } }, cleanup: () => database.drop() };
    },
  },
];

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

for (const backend of backends) {
  describe(`mobile identity store on ${backend.name}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    let people: PersonRepository;
    let devices: DeviceRepository;

    before(async () => {
      const s = await backend.open();
      cleanup = s.cleanup;
      db = openDb(s.settings);
      await migrate(db);
      people = new PersonRepository(db);
      devices = new DeviceRepository(db);
    });
    after(async () => {
      await db.destroy();
      await cleanup();
    });

    test('people: user names are unique; found by id, user name, prefix, group and role (literally, not as patterns)', async () => {
      const jane = randomUUID();
      await people.insert(db, jane, person('jane.smith', { displayName: 'Jane Smith', groups: ['Finance', 'All_Staff'], roles: ['mobile-user'] }));
      await people.insert(db, randomUUID(), person('john', { displayName: 'John Doe', groups: ['AllXStaff'], roles: ['operator'] }));
      await assert.rejects(people.insert(db, randomUUID(), person('jane.smith')), 'the user name is unique');
      assert.equal((await people.find(jane))?.userName, 'jane.smith');
      assert.equal((await people.find('jane.smith'))?.id, jane);
      assert.deepEqual((await people.find('jane.smith'))?.groups, ['Finance', 'All_Staff']);
      assert.deepEqual((await people.list({ q: 'JANE' })).map((p) => p.userName), ['jane.smith'], 'prefix, case-insensitive');
      assert.deepEqual((await people.list({ q: 'John D' })).map((p) => p.userName), ['john'], 'display name prefix');
      assert.deepEqual((await people.list({ group: 'All_Staff' })).map((p) => p.userName), ['jane.smith'], '_ is not a wildcard');
      assert.deepEqual((await people.list({ group: 'Fin' })).map((p) => p.userName), [], 'whole group names only');
      assert.deepEqual((await people.list({ role: 'operator' })).map((p) => p.userName), ['john']);
      assert.deepEqual((await people.list({ q: '%' })).map((p) => p.userName), [], '% is not a wildcard');
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
      assert.deepEqual((await devices.list({ ownerId: owner })).map((d) => d.serial), ['F2LX1234ABCD']);
      await devices.setStatus(db, id, 'issued');
      assert.deepEqual((await devices.list({ status: 'issued' })).map((d) => d.id), [id]);
      assert.equal((await devices.bySerials(['F2LX1234ABCD', 'NOPE'])).size, 1);
    });
  });
}
