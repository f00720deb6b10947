/**
 * One repository suite, run against the embedded SQLite and a real MariaDB:
 * whatever works on one must behave the same on the other.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { migrate, type Db } from '../../src/store/db.js';
import { AuditRepository } from '../../src/store/audit.js';
import { CertificateRepository, SerialCollisionError, UNMANAGED_CA } from '../../src/store/certificates.js';
import { CrlStateRepository } from '../../src/store/crl-state.js';
import { JobRepository } from '../../src/store/jobs.js';
import { EscrowRepository, KeyPoolRepository } from '../../src/store/key-store.js';
import { sqlOf, transaction } from '../../src/store/sql.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { UnmanagedCertificateRepository } from '../../src/store/unmanaged-certificates.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

for (const backend of STORE_BACKENDS) {
  describe(`store on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let jobs: JobRepository;
    let tokens: TokenRepository;

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      await migrate(db); // idempotent
      jobs = new JobRepository(db);
      tokens = new TokenRepository(db);
    });
    // Claims see the whole queue: each test starts from an empty one.
    beforeEach(async () => {
      await db('jobs').del();
    });
    after(async () => {
      await close();
    });

    test('tokens: created, verified, listed, revoked', async () => {
      const { token, record } = await tokens.create({ name: 'ci', roles: ['admin', 'auditor'] });
      assert.match(token, /^cgt_[A-Za-z0-9_-]{43}$/);
      const verified = await tokens.verify(token);
      assert.equal(verified?.id, record.id);
      assert.deepEqual(verified?.roles, ['admin', 'auditor']);
      assert.ok((await tokens.verify(token))?.lastUsedAt, 'use is recorded');
      assert.equal(await tokens.verify(`${token}x`), undefined);
      assert.equal(await tokens.verify('not-a-token'), undefined);
      assert.ok((await tokens.list()).some((t) => t.id === record.id));
      assert.equal(await tokens.revoke(record.id), true);
      assert.equal(await tokens.revoke(record.id), false);
      assert.equal(await tokens.verify(token), undefined);
    });

    test('tokens: expiry is enforced', async () => {
      const { token } = await tokens.create({ name: 'short', roles: [], expiresAt: Date.now() + 1000 });
      assert.ok(await tokens.verify(token));
      assert.equal(await tokens.verify(token, Date.now() + 2000), undefined);
    });

    test('jobs: enqueue inside a transaction that rolls back leaves nothing', async () => {
      await assert.rejects(
        db.transaction(async (trx) => {
          await jobs.insert(trx, { type: 'rollback.me', payload: { a: 1 }, maxAttempts: 3 });
          throw new Error('caller failed');
        }),
        /caller failed/,
      );
      assert.equal((await jobs.list({ type: 'rollback.me' })).length, 0);
    });

    test('jobs: dedupe keys make enqueue idempotent', async () => {
      const first = await db.transaction((trx) => jobs.insert(trx, { type: 'dedupe', payload: 1, maxAttempts: 3, dedupeKey: 'evt-1' }));
      const second = await db.transaction((trx) => jobs.insert(trx, { type: 'dedupe', payload: 2, maxAttempts: 3, dedupeKey: 'evt-1' }));
      assert.ok(first);
      assert.equal(second, undefined);
      const other = await jobs.insert(db, { type: 'dedupe', payload: 3, maxAttempts: 3, dedupeKey: 'evt-2' });
      assert.ok(other && other !== first);
      const all = await jobs.list({ type: 'dedupe' });
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((j) => j.id === first)?.payload, 1);
    });

    test('jobs: claim, lease, complete, fail, retry, dead', async () => {
      const t0 = Date.now() + 10_000_000;
      const id = (await jobs.insert(db, { type: 'lifecycle', payload: { n: 1 }, maxAttempts: 2, runAt: t0 }))!;
      assert.deepEqual(await jobs.claim('w1', 10, 1000, t0 - 1), [], 'not due yet');
      const [claimed] = await jobs.claim('w1', 10, 1000, t0);
      assert.equal(claimed?.id, id);
      assert.equal(claimed?.status, 'running');
      assert.equal(claimed?.attempts, 1);
      assert.deepEqual(await jobs.claim('w2', 10, 1000, t0 + 500), [], 'leased to w1');
      // w1 "dies": after the lease runs out, w2 takes the job over.
      const [taken] = await jobs.claim('w2', 10, 1000, t0 + 1001);
      assert.equal(taken?.id, id);
      assert.equal(taken?.attempts, 2);
      assert.equal(await jobs.complete(id, 'w1', 'late'), false, 'the old owner can no longer finish it');
      assert.equal(await jobs.fail(id, 'w2', 'boom', t0 + 5000), true);
      let job = await jobs.get(id);
      assert.equal(job?.status, 'queued');
      assert.equal(job?.lastError, 'boom');
      assert.equal(job?.availableAt, t0 + 5000);
      await jobs.claim('w2', 10, 1000, t0 + 5000);
      assert.equal(await jobs.fail(id, 'w2', 'gave up', undefined), true);
      job = await jobs.get(id);
      assert.equal(job?.status, 'dead');
      assert.ok(job?.finishedAt);
      assert.equal(await jobs.retry(id, t0 + 6000), true);
      job = await jobs.get(id);
      assert.equal(job?.status, 'queued');
      assert.equal(job?.attempts, 0);
      const [again] = await jobs.claim('w3', 10, 1000, t0 + 6000);
      assert.equal(await jobs.complete(again!.id, 'w3', { ok: true }), true);
      job = await jobs.get(id);
      assert.equal(job?.status, 'done');
      assert.deepEqual(job?.result, { ok: true });
      assert.equal(await jobs.retry(id), false, 'done jobs are not retried');
    });

    test('jobs: higher priority first among due jobs; a renewed lease keeps the job', async () => {
      const t0 = 3_000_000;
      const low = (await jobs.insert(db, { type: 'prio', payload: 'low', maxAttempts: 3, runAt: t0 }))!;
      const high = (await jobs.insert(db, { type: 'prio', payload: 'high', maxAttempts: 3, runAt: t0 + 10, priority: 10 }))!;
      const notDue = (await jobs.insert(db, { type: 'prio', payload: 'later', maxAttempts: 3, runAt: t0 + 1000, priority: 99 }))!;
      const [first] = await jobs.claim('w1', 1, 1000, t0 + 20);
      assert.equal(first?.id, high, 'the delivery-like job overtakes the older one');
      assert.equal(first?.priority, 10);
      const [second] = await jobs.claim('w1', 1, 1000, t0 + 20);
      assert.equal(second?.id, low);
      assert.ok(notDue);

      assert.equal(await jobs.renewLease(high, 'w1', 1000, t0 + 900), true);
      // At t0+1500 the renewed job is still leased to w1; the other's lease ran out.
      assert.deepEqual((await jobs.claim('w2', 10, 1000, t0 + 1500)).map((j) => j.id).sort(), [low, notDue].sort());
      assert.equal(await jobs.renewLease(low, 'w1', 1000, t0 + 1600), false, 'a lease that ran out and was taken is not renewed');
    });

    test('jobs: claims respect the limit and order by due time', async () => {
      const t0 = Date.now();
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await jobs.insert(db, { type: 'order', payload: i, maxAttempts: 1, runAt: t0 + 5 - i }))!);
      const batch = await jobs.claim('w', 3, 60_000, t0 + 10);
      assert.deepEqual(batch.map((j) => j.payload).sort(), [2, 3, 4], 'the three due first');
      const rest = await jobs.claim('w', 10, 60_000, t0 + 10);
      assert.deepEqual(rest.map((j) => j.payload).sort(), [0, 1]);
      const counts = await jobs.countByStatus();
      assert.ok(counts.running >= 5);
    });

    test('jobs: concurrent claimers never get the same job', async () => {
      const t0 = Date.now();
      await db.transaction(async (trx) => {
        for (let i = 0; i < 60; i++) await jobs.insert(trx, { type: 'race', payload: i, maxAttempts: 1, runAt: t0 });
      });
      const claims = await Promise.all(Array.from({ length: 6 }, (_, w) => jobs.claim(`w${w}`, 15, 60_000, t0)));
      const ids = claims.flat().map((j) => j.id);
      assert.equal(ids.length, 60);
      assert.equal(new Set(ids).size, 60);
    });
  });
}

describe('issuance repositories on both databases', () => {
  for (const backend of STORE_BACKENDS) {
    describe(backend.name, () => {
      let db: Db;
      let close: () => Promise<void>;
      before(async () => {
        ({ db, close } = await openMigrated(backend));
      });
      after(async () => {
        await close();
      });

      const record = (serial: string, extra: Partial<Parameters<CertificateRepository['insert']>[1]> = {}) => ({
        serial,
        ca: 'dev',
        subject: `CN=${serial}`,
        sans: [{ type: 'email', value: `${serial}@example.com` }],
        template: 'tls-client',
        userId: 'u1',
        deviceId: null,
        notBefore: 1_000,
        notAfter: 5_000_000_000_000,
        sha1: serial.padEnd(40, '0'),
        sha256: serial.padEnd(64, '0'),
        pem: '-----BEGIN CERTIFICATE-----',
        keyEscrowed: false,
        createdAt: Date.now(),
        ...extra,
      });

      test('certificates: a duplicate serial is a SerialCollisionError; status transitions are guarded', async () => {
        const certs = new CertificateRepository(db);
        await certs.insert(db, record('0a01'));
        await assert.rejects(certs.insert(db, record('0a01', { sha256: 'f'.repeat(64) })), SerialCollisionError);
        await db.transaction(async (trx) => {
          assert.equal(await certs.transition(trx, '0a01', ['valid'], 'hold', 10, 'certificateHold'), true);
          assert.equal(await certs.transition(trx, '0a01', ['valid'], 'revoked', 11, 'keyCompromise'), false, 'not valid any more');
        });
        assert.deepEqual(await certs.revokedFor('dev', 2_000), [{ serial: '0a01', revokedAt: 10, reason: 'certificateHold' }]);
        await certs.insert(db, record('0a02', { userId: 'u2', notAfter: 3_000 }));
        assert.deepEqual(
          (await certs.list({ userId: 'u2' })).map((c) => c.serial),
          ['0a02'],
        );
        assert.deepEqual(
          (await certs.list({ expiringBefore: 4_000 })).map((c) => c.serial),
          ['0a02'],
        );
        assert.deepEqual(
          (await certs.list({ status: 'hold' })).map((c) => c.serial),
          ['0a01'],
        );
        assert.deepEqual(
          (await certs.list({ after: '0a01' })).map((c) => c.serial),
          ['0a02'],
        );
      });

      test('unmanaged certificates: marked in the inventory, one current per person and purpose, removed with their key', async () => {
        const certs = new CertificateRepository(db);
        const escrow = new EscrowRepository(db);
        const uploads = new UnmanagedCertificateRepository(db);
        const upload = (serial: string, uploadedAt: number) => ({
          serial,
          userId: 'u9',
          purpose: 'encryption',
          issuer: 'O=Other Bank, CN=Other Bank Issuing CA',
          chain: [Buffer.from([1, 2, 3])],
          uploadedBy: 'client-cert:admin',
          uploadedAt,
        });
        for (const [serial, at] of [
          ['0c01', 1_000],
          ['0c02', 2_000],
        ] as const) {
          await db.transaction(async (trx) => {
            assert.deepEqual(await uploads.supersede(trx, 'u9', 'encryption', at), serial === '0c01' ? [] : ['0c01']);
            await certs.insert(trx, record(serial, { ca: UNMANAGED_CA, template: null, userId: 'u9', keyEscrowed: true }));
            await escrow.put(trx, serial, { kekId: 'k', wrapped: `sealed-${serial}` });
            await uploads.insert(trx, upload(serial, at));
          });
        }
        assert.equal((await uploads.current('u9', 'encryption'))?.serial, '0c02');
        assert.deepEqual(
          (await uploads.ofUser('u9')).map((u) => [u.serial, u.state, u.supersededAt]),
          [
            ['0c02', 'current', null],
            ['0c01', 'superseded', 2_000],
          ],
        );
        assert.deepEqual((await uploads.get('0c02'))?.chain, [Buffer.from([1, 2, 3])]);
        assert.equal((await certs.get('0c02'))?.unmanaged, true);
        assert.equal((await certs.get('0a01'))?.unmanaged, undefined, 'certificates issued here are not marked');
        assert.deepEqual(
          (await certs.list({ unmanaged: true })).map((c) => c.serial),
          ['0c01', '0c02'],
        );
        assert.ok(!(await certs.list({ unmanaged: false })).some((c) => c.unmanaged));
        assert.deepEqual(await certs.revokedFor(UNMANAGED_CA), [], 'no CRL ever lists one');
        assert.equal(await certs.hasSha256('0c02'.padEnd(64, '0')), false, 'not issued here, for client-certificate authentication');
        assert.equal(await certs.serialOfSha256('0c02'.padEnd(64, '0')), '0c02');
        assert.equal(await certs.hasSha256('0a01'.padEnd(64, '0')), true);

        await db.transaction(async (trx) => {
          assert.equal(await certs.removeUnmanaged(trx, '0a01'), false, 'a certificate issued here is never removed so');
          assert.equal(await escrow.remove(trx, '0c02'), true);
          assert.equal(await uploads.remove(trx, '0c02'), true);
          assert.equal(await certs.removeUnmanaged(trx, '0c02'), true);
        });
        assert.equal(await certs.get('0c02'), undefined);
        assert.equal(await escrow.get('0c02'), undefined);
        assert.equal(await uploads.current('u9', 'encryption'), undefined, 'the superseded one does not come back as current');
      });

      test('key pool: concurrent takers never get the same key', async () => {
        const pool = new KeyPoolRepository(db);
        for (let i = 0; i < 20; i++) await pool.add('rsa-2048', { kekId: 'k', wrapped: `blob-${i}` });
        const taken = await Promise.all(Array.from({ length: 25 }, () => pool.take('rsa-2048')));
        const got = taken.filter((t) => t !== undefined).map((t) => t.wrapped);
        assert.equal(got.length, 20);
        assert.equal(new Set(got).size, 20);
        assert.equal(await pool.count('rsa-2048'), 0);
      });

      test('plain-SQL transactions: all or nothing, alone on the connection, nested in knex transactions', async () => {
        const audit = new AuditRepository(db);
        const certs = new CertificateRepository(db);
        const rows = async (subjectId: string) => (await audit.list({ subjectId })).length;

        await assert.rejects(
          transaction(db, async (sql) => {
            await certs.insert(sql, record('0b01'));
            await audit.append(sql, { actor: 't', action: 'certificate.issue', subjectType: 'certificate', subjectId: '0b01' });
            await certs.insert(sql, record('0b01', { sha256: 'e'.repeat(64) }));
          }),
          SerialCollisionError,
        );
        assert.equal(await certs.get('0b01'), undefined);
        assert.equal(await rows('0b01'), 0, 'rolled back with the certificate');

        // A query started during the transaction does not see its rows: on SQLite it waits for the one connection until COMMIT.
        let seen: number | undefined;
        await transaction(db, async (sql) => {
          await audit.append(sql, { actor: 't', action: 'certificate.issue', subjectType: 'certificate', subjectId: '0b02' });
          void rows('0b02').then((n) => (seen = n));
          await new Promise((r) => setTimeout(r, 50));
          assert.equal(seen, backend.name === 'sqlite' ? undefined : 0);
        });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(seen, backend.name === 'sqlite' ? 1 : 0);
        assert.equal(await rows('0b02'), 1);

        await db.transaction(async (trx) => {
          await assert.rejects(
            transaction(trx, async (sql) => {
              await audit.append(sql, { actor: 't', action: 'certificate.issue', subjectType: 'certificate', subjectId: '0b03' });
              throw new Error('inner');
            }),
            /inner/,
          );
          await audit.append(trx, { actor: 't', action: 'certificate.issue', subjectType: 'certificate', subjectId: '0b04' });
        });
        assert.equal(await rows('0b03'), 0, 'the inner transaction rolled back alone');
        assert.equal(await rows('0b04'), 1);
        assert.equal(await sqlOf(db).run('UPDATE audit SET reason = ? WHERE subject_id IN (?, ?)', ['r', '0b02', '0b04']), 2);
      });

      test('audit rows are appended and filtered; CRL numbers increase', async () => {
        const audit = new AuditRepository(db);
        await audit.append(db, { actor: 'a', action: 'certificate.revoke', subjectType: 'certificate', subjectId: 'ff', reason: 'stolen', detail: { x: 1 } });
        await audit.append(db, { actor: 'b', action: 'key.recover', subjectType: 'certificate', subjectId: 'ff' });
        assert.deepEqual(
          (await audit.list({ subjectId: 'ff' })).map((e) => [e.action, e.actor, e.reason]),
          [
            ['key.recover', 'b', null],
            ['certificate.revoke', 'a', 'stolen'],
          ],
        );
        const state = new CrlStateRepository(db);
        for (const expected of [1n, 2n]) {
          await db.transaction(async (trx) => {
            const n = await state.nextNumber(trx, 'dev');
            assert.equal(n, expected);
            await state.save(trx, { ca: 'dev', crlNumber: n, thisUpdate: 1, nextUpdate: 2, der: Buffer.from([n === 1n ? 1 : 2]) });
          });
        }
        await state.markStale(db, 'dev');
        const saved = await state.get('dev');
        assert.equal(saved?.crlNumber, 2n);
        assert.equal(saved?.stale, true);
        assert.deepEqual(saved?.der, Buffer.from([2]));
      });
    });
  }
});
