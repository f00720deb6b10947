/**
 * Spent holder proofs on SQLite and MariaDB alike: a proof is spent once,
 * also when two requests (two instances) race with it, and is forgotten
 * only once it has expired.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/store/db.js';
import { HolderProofRepository } from '../../src/store/holder-proofs.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

for (const backend of STORE_BACKENDS) {
  describe(`holder proofs on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let proofs: HolderProofRepository;

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      proofs = new HolderProofRepository(db);
    });
    after(async () => {
      await close();
    });

    test('a proof is spent once; the same jti of another mobile ID is another proof', async () => {
      const mobileId = randomUUID();
      const jti = randomUUID();
      const exp = Date.now() + 300_000;
      assert.equal(await proofs.spend(mobileId, jti, exp), true);
      assert.equal(await proofs.spend(mobileId, jti, exp), false);
      assert.equal(await proofs.spend(randomUUID(), jti, exp), true);
    });

    test('of ten racing uses of one proof exactly one succeeds', async () => {
      const mobileId = randomUUID();
      const jti = randomUUID();
      const results = await Promise.all(Array.from({ length: 10 }, () => proofs.spend(mobileId, jti, Date.now() + 300_000)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('the sweep forgets expired proofs only', async () => {
      const mobileId = randomUUID();
      await proofs.spend(mobileId, 'expired-proof-0001', Date.now() - 1000);
      await proofs.spend(mobileId, 'current-proof-0001', Date.now() + 300_000);
      assert.ok((await proofs.sweep()) >= 1);
      assert.equal(await proofs.spend(mobileId, 'expired-proof-0001', Date.now() + 300_000), true, 'forgotten');
      assert.equal(await proofs.spend(mobileId, 'current-proof-0001', Date.now() + 300_000), false, 'still spent');
    });
  });
}
