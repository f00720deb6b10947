/**
 * Whose escrowed keys are whose, on SQLite and MariaDB: a user named by a
 * connector or an OTA enrollment is the one directory person with its UPN,
 * else with its address (without regard to case), or no one; the person's
 * current key is their newest valid escrowed one; and reuse-or-issue runs
 * one at a time per person and template across gateway instances.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { EscrowedKeys } from '../../src/identity/escrowed-keys.js';
import { CertificateRepository } from '../../src/store/certificates.js';
import { openDb, type Db } from '../../src/store/db.js';
import { PersonRepository } from '../../src/store/people.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

const DAY = 86_400_000;

for (const backend of STORE_BACKENDS) {
  describe(`escrowed keys on ${backend.name}`, () => {
    let db: Db;
    let second: Db;
    let close: () => Promise<void>;
    let keys: EscrowedKeys;
    let certificates: CertificateRepository;
    const ids: Record<string, string> = {};

    before(async () => {
      const store = await openMigrated(backend);
      ({ db, close } = store);
      // Another gateway instance on the same database; on SQLite one process owns the file.
      second = backend.name === 'mariadb' ? openDb(store.settings) : db;
      const people = new PersonRepository(db);
      certificates = new CertificateRepository(db);
      keys = new EscrowedKeys({ db, people, certificates });
      const person = { displayName: 'x', mobile: null, upn: null, groups: [], roles: [] };
      for (const [userName, email, upn] of [
        ['jane', 'Jane.Smith@Example.com', 'jsmith@corp.example.com'],
        ['sam', 'sam@example.com', null],
        ['pat', 'team@example.com', null],
        ['lee', 'team@example.com', null],
        ['kim', 'kim_1@example.com', null],
      ] as const) {
        ids[userName] = randomUUID();
        await people.insert(db, ids[userName]!, { ...person, userName, email, upn });
      }
    });
    after(async () => {
      if (second !== db) await second.destroy();
      await close();
    });

    test('a named user is the one directory person with its UPN, else with its address, without regard to case; otherwise its own id', async () => {
      assert.equal(await keys.holderOf({ id: '55', email: 'jane.smith@example.com' }), ids.jane);
      assert.equal(await keys.holderOf({ id: '55', email: 'JANE.SMITH@EXAMPLE.COM' }), ids.jane);
      assert.equal(await keys.holderOf({ id: 'u-1', upn: 'JSmith@Corp.Example.com', email: 'sam@example.com' }), ids.jane, 'the UPN first');
      assert.equal(await keys.holderOf({ id: 'u-2', upn: 'nobody@corp.example.com', email: 'sam@example.com' }), ids.sam, 'else the address');
      assert.equal(await keys.holderOf({ id: '56', email: 'team@example.com' }), '56', 'an address two people share is no one');
      assert.equal(await keys.holderOf({ id: '57', email: 'kim%@example.com' }), '57', 'compared, not matched as a pattern');
      assert.equal(await keys.holderOf({ id: '58', email: 'kim_@example.com' }), '58');
      assert.equal(await keys.holderOf({ id: '59', email: ' sam@example.com' }), '59');
      assert.equal(await keys.holderOf({ email: 'nobody@example.com' }), null);
      assert.equal(await keys.holderOf({ id: '60' }), '60');
    });

    test("the person's current key is their newest valid, unexpired, escrowed one", async () => {
      const now = Date.now();
      const add = (serial: string, extra: Partial<Parameters<CertificateRepository['insert']>[1]> = {}) =>
        certificates.insert(db, {
          serial,
          ca: 'dev',
          subject: 'CN=Jane',
          sans: [],
          template: 'smime-encryption',
          userId: ids.jane!,
          deviceId: null,
          notBefore: now - DAY,
          notAfter: now + 300 * DAY,
          sha1: randomUUID().replace(/-/g, '').padEnd(40, '0'),
          sha256: randomUUID().replace(/-/g, '').padEnd(64, '0'),
          pem: '-----BEGIN CERTIFICATE-----',
          keyEscrowed: true,
          createdAt: now,
          ...extra,
        });
      await add('01', { notAfter: now + 100 * DAY });
      await add('02', { notAfter: now + 200 * DAY });
      await add('03', { notAfter: now + 400 * DAY, keyEscrowed: false });
      await add('04', { notAfter: now + 500 * DAY, template: 'smime-signing' });
      await add('05', { notAfter: now - DAY });
      await add('06', { notAfter: now + 600 * DAY });
      await db('certificates').where({ serial: '06' }).update({ status: 'revoked', revoked_at: now, revocation_reason: 'superseded' });
      const mine = await keys.of(ids.jane!, 'smime-encryption');
      assert.deepEqual(
        mine.map((c) => c.serial),
        ['02', '01', '05'],
        'escrowed and not revoked, newest first',
      );
      assert.equal(EscrowedKeys.current(mine)?.serial, '02');
      assert.equal(EscrowedKeys.current(mine, now + 250 * DAY), undefined, 'due for renewal: none is current');
      const plan = await keys.delivery(ids.jane!, { template: 'smime-encryption', historic: 'use-existing', includeHistoric: true });
      assert.equal(plan.existing?.serial, '02');
      assert.equal(plan.issue, false);
      assert.deepEqual(
        plan.historic.map((c) => c.serial),
        ['01', '05'],
      );
      assert.deepEqual(await keys.delivery(ids.jane!, { template: 'smime-encryption', historic: 'historic-only' }), { issue: false, historic: mine });
      assert.deepEqual(await keys.delivery(ids.jane!, { template: 'smime-encryption' }), { issue: true, historic: [] }, 'issue-new looks at nothing');
    });

    test('reuse-or-issue runs one at a time per person and template, also across instances', async () => {
      // SQLite has one gateway process, and one EscrowedKeys in it.
      const other =
        second === db ? keys : new EscrowedKeys({ db: second, people: new PersonRepository(second), certificates: new CertificateRepository(second) });
      const spans: [string, number, number][] = [];
      const task = (name: string) => async () => {
        const start = Date.now();
        await sleep(150);
        spans.push([name, start, Date.now()]);
      };
      await Promise.all([
        keys.exclusive(ids.jane!, 'smime-encryption', task('a')),
        other.exclusive(ids.jane!, 'smime-encryption', task('b')),
        keys.exclusive(ids.sam!, 'smime-encryption', task('sam')),
      ]);
      const [a, b] = ['a', 'b'].map((n) => spans.find((s) => s[0] === n)!);
      assert.ok(a![2] <= b![1] || b![2] <= a![1], `one after the other: ${JSON.stringify(spans)}`);
      const sam = spans.find((s) => s[0] === 'sam')!;
      assert.ok(sam[1] < Math.min(a![2], b![2]), `another person does not wait: ${JSON.stringify(spans)}`);
    });
  });
}
