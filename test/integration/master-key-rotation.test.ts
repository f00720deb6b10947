/**
 * Rotating the master key re-seals everything sealed under it in the
 * database, not only keys: credential sets waiting for delivery to an MDM
 * and SCEP requests waiting for an operator open under the new key
 * afterwards, and a second run finds nothing left to do.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { masterKeyOf, openBytes, sealBytes } from '../../src/pki/key-wrap.js';
import { rotateMasterKey } from '../../src/pki/master-key-rotation.js';
import { AuditRepository } from '../../src/store/audit.js';
import type { Db } from '../../src/store/db.js';
import { deliveryContext, DeliveryRepository } from '../../src/store/deliveries.js';
import { pendingContext, ScepTransactionRepository } from '../../src/store/scep.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

for (const backend of STORE_BACKENDS) {
  describe(`master-key rotation of sealed rows on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    const from = masterKeyOf(randomBytes(32));
    const to = masterKeyOf(randomBytes(32));

    before(async () => {
      ({ db, close } = await openMigrated(backend));
    });
    after(async () => {
      await close?.();
    });

    test('pending deliveries and waiting SCEP requests open under the new key', async () => {
      const deliveries = new DeliveryRepository(db);
      const payload = Buffer.from(JSON.stringify([{ pkcs12: 'sealed-credential-set' }]));
      const id = await deliveries.create(db, {
        connectorId: 'ws1',
        eventId: null,
        deviceId: 'device-1',
        userId: null,
        serials: ['01'],
        kekId: from.id,
        wrappedPayload: sealBytes(from, payload, deliveryContext('ws1', 'device-1')),
        expiresAt: null,
        renews: null,
      });
      const scep = new ScepTransactionRepository(db);
      const request = { profile: 'intune', transactionId: 'tid-1', renews: '' };
      const csr = Buffer.from('the request as received');
      await scep.insert(db, {
        ...request,
        keySha256: 'k'.repeat(64),
        messageType: 'PKCSReq',
        status: 'pending',
        subject: 'CN=x',
        csr: 'AA==',
        csrSealed: sealBytes(from, csr, pendingContext(request)),
        kekId: from.id,
      });

      const report = await rotateMasterKey({ db, audit: new AuditRepository(db), from, to, keyFiles: [], actor: 'test' });
      assert.equal(report.deliveries, 1);
      assert.equal(report.scepRequests, 1);

      const d = (await deliveries.get(id))!;
      assert.equal(d.kekId, to.id);
      assert.deepEqual(openBytes(to, d.kekId!, d.wrappedPayload!, deliveryContext('ws1', 'device-1')), payload);
      const t = (await scep.find('intune', 'tid-1', ''))!;
      assert.equal(t.kekId, to.id);
      assert.deepEqual(openBytes(to, t.kekId!, t.csrSealed!, pendingContext(t)), csr);

      const again = await rotateMasterKey({ db, audit: new AuditRepository(db), from, to, keyFiles: [], actor: 'test' });
      assert.deepEqual([again.deliveries, again.scepRequests], [0, 0], 'a second run has nothing left');
    });
  });
}
