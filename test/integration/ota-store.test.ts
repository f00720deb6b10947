/** OTA enrollments on SQLite and MariaDB: one device per enrollment, one completion, claims that outlive a crash. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ParsedCsr } from '../../src/pki/csr.js';
import { DynamicChallenges } from '../../src/protocols/scep/challenges.js';
import type { Db } from '../../src/store/db.js';
import { OtaEnrollmentRepository, type OtaDevice } from '../../src/store/ota.js';
import { ScepChallengeRepository } from '../../src/store/scep.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

const device = (udid: string): OtaDevice => ({
  udid,
  serialNumber: 'F2LX1234ABCD',
  product: 'iPhone12,1',
  osVersion: '21E236',
  imei: null,
  attributes: { UDID: udid, DEVICE_NAME: 'Jane’s iPhone' },
});

for (const backend of STORE_BACKENDS) {
  describe(`OTA enrollments on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let repo: OtaEnrollmentRepository;
    const add = async (expiresAt = Date.now() + 60_000) => {
      const id = randomUUID();
      await repo.insert(db, {
        id,
        codeDigest: randomUUID().replace(/-/g, ''),
        credentialProfile: 'smime',
        userId: 'u-1',
        user: { displayName: 'Jane', email: 'jane@example.com' },
        createdBy: 'test',
        expiresAt,
      });
      return id;
    };

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      repo = new OtaEnrollmentRepository(db);
    });
    after(async () => {
      await close();
    });

    test('created pending, found by code digest, bound to one device only', async () => {
      const id = await add();
      const e = (await repo.get(id))!;
      assert.equal(e.status, 'pending');
      assert.deepEqual(e.user, { displayName: 'Jane', email: 'jane@example.com' });
      const digest = (await db('ota_enrollments').where({ id }).first()).code_digest as string;
      assert.equal((await repo.byCode(digest))?.id, id);
      assert.equal(await repo.bind(db, id, device('UDID-A')), true);
      assert.equal(await repo.bind(db, id, device('UDID-A')), true, 'the same device may repeat phase 2');
      assert.equal(await repo.bind(db, id, device('UDID-B')), false, 'another device may not take it');
      const bound = (await repo.get(id))!;
      assert.equal(bound.status, 'device-bound');
      assert.equal(bound.device?.udid, 'UDID-A');
      assert.equal(bound.device?.attributes.DEVICE_NAME, 'Jane’s iPhone');
    });

    test("a device starting again gets a new SCEP challenge: its creator's unused ones stop working, no one else's", async () => {
      const challenges = new DynamicChallenges(new ScepChallengeRepository(db), Buffer.alloc(32, 7));
      const works = async (challenge: string, profile = 'ota') =>
        (await challenges.validate({ profile, challenge, csr: {} as ParsedCsr, transactionId: 't' })).ok;
      const made = (createdBy: string, profile = 'ota') =>
        db.transaction((trx) => challenges.reissue(trx, { profile, ttlMs: 60_000, binding: { CN: 'UDID-A' }, exact: true, createdBy }));
      const first = await made('ota:e-1');
      const neighbour = await made('ota:e-2');
      const otherProfile = await made('ota:e-1', 'kiosks');
      const second = await made('ota:e-1');
      assert.equal(await works(first.challenge), false, 'retired');
      assert.equal(await works(second.challenge), true);
      assert.equal(await works(second.challenge), false, 'still once only');
      assert.equal(await works(neighbour.challenge), true, "another enrollment's challenge stays");
      assert.equal(await works(otherProfile.challenge, 'kiosks'), true, "another profile's challenge stays");
      // A reissue that rolls back retires nothing.
      const third = await made('ota:e-3');
      await assert.rejects(
        db.transaction(async (trx) => {
          await challenges.reissue(trx, { profile: 'ota', ttlMs: 60_000, createdBy: 'ota:e-3' });
          throw new Error('the bind failed');
        }),
        /the bind failed/,
      );
      assert.equal(await works(third.challenge), true);
    });

    test('an expired enrollment cannot be bound or claimed', async () => {
      const id = await add(Date.now() - 1);
      assert.equal(await repo.bind(db, id, device('UDID-A')), false);
      assert.equal(await repo.claimForIssuing(id, 'UDID-A', 60_000), false);
    });

    test('issuing is claimed once; a released or stale claim may be taken again; completion happens once', async () => {
      const id = await add(Date.now() + 3_600_000);
      await repo.bind(db, id, device('UDID-C'));
      assert.equal(await repo.claimForIssuing(id, 'UDID-OTHER', 60_000), false, 'only for the bound device');
      const claims = await Promise.all([repo.claimForIssuing(id, 'UDID-C', 60_000), repo.claimForIssuing(id, 'UDID-C', 60_000)]);
      assert.deepEqual(claims.sort(), [false, true]);
      await repo.releaseClaim(id);
      assert.equal(await repo.claimForIssuing(id, 'UDID-C', 60_000), true);
      assert.equal(await repo.claimForIssuing(id, 'UDID-C', 60_000, Date.now() + 120_000), true, 'a claim left by a crash goes stale');
      assert.equal(await repo.complete(db, id, { deviceCertSerial: 'ab', issuedSerials: ['01', '02'] }), true);
      assert.equal(await repo.complete(db, id, { deviceCertSerial: 'ab', issuedSerials: ['03'] }), false);
      const done = (await repo.get(id))!;
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.issuedSerials, ['01', '02']);
      assert.equal(await repo.bind(db, id, device('UDID-C')), false, 'a completed enrollment stays completed');
    });
  });
}
