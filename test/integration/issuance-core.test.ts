/** Issuance internals that the API does not show: the key pool, serial retries, PKCS#12 CAs, CRL timing, templates. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../src/app/database.js';
import { buildIssuance, type Issuance } from '../../src/app/issuance.js';
import { ensurePki, loadMasterKey } from '../../src/app/pki-setup.js';
import type { Config } from '../../src/config/schema.js';
import { CaRegistry, loadCa } from '../../src/pki/ca.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { buildCrl } from '../../src/pki/crl.js';
import { devPkiFiles } from '../../src/pki/dev-pki.js';
import { Issuer } from '../../src/pki/issuer.js';
import { readKeyFile } from '../../src/pki/key-files.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { buildPkcs12 } from '../../src/pki/pkcs12.js';
import { parseDnTemplate, renderNames, TemplateError } from '../../src/pki/template.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Db } from '../../src/store/db.js';
import { testConfig } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';

const log = createLogger({ level: 'silent' });

describe('issuance core internals', () => {
  let config: Config;
  let db: Db;
  let masterKey: Buffer;
  let core: Issuance;
  let dir: string;

  before(async () => {
    dir = tempDir();
    config = testConfig(dir, { pki: { keyPool: { 'rsa-2048': 4 } } });
    masterKey = loadMasterKey(config, { create: true });
    await ensurePki(config, masterKey, log);
    db = await openDatabase(config.database);
    core = buildIssuance({ config, db, masterKey, baseUrl: 'https://gw.example', log });
  });
  after(async () => {
    core.stop();
    await core.keyPool.idle();
    await db.destroy();
  });

  test('the key pool fills to its target with wrapped keys and serves issuance from them', async () => {
    core.keyPool.start();
    await core.keyPool.idle();
    const rows = (await db('key_pool').select('algorithm', 'wrapped', 'kek_id')) as { algorithm: string; wrapped: string; kek_id: string }[];
    assert.equal(rows.length, 4);
    assert.ok(rows.every((r) => r.algorithm === 'rsa-2048' && r.kek_id === core.master.id));
    assert.ok(
      rows.every((r) => !Buffer.from(r.wrapped, 'base64').includes(Buffer.from('0\x82'))),
      'no cleartext PKCS#8 at rest',
    );

    const pooled = await core.keyPool.acquire('rsa-2048');
    assert.equal(pooled.pooled, true);
    assert.equal(pooled.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    await core.keyPool.idle();
    assert.equal(Number((await db('key_pool').count({ n: '*' }).first())?.n), 4, 'refilled after a take');

    const issued = await core.issuer.issue({ template: 'smime-signing', data: { user: { displayName: 'P', email: 'p@example.com' } }, actor: 'test' });
    assert.ok(issued.privateKey);
    assert.ok(issued.cert.checkPrivateKey(issued.privateKey));
  });

  test('a serial collision re-issues with a fresh serial', async () => {
    const first = await core.issuer.issue({ template: 'tls-client', data: { user: { userName: 'one' } }, actor: 'test' });
    const serials = [first.record.serial, '5ee5ee5ee5ee5ee5ee5ee5ee5ee5ee5'];
    const issuer = new Issuer({ ...(core.issuer as unknown as { deps: ConstructorParameters<typeof Issuer>[0] }).deps, serials: () => serials.shift()! });
    const second = await issuer.issue({ template: 'tls-client', data: { user: { userName: 'two' } }, actor: 'test' });
    assert.equal(second.record.serial, '5ee5ee5ee5ee5ee5ee5ee5ee5ee5ee5');
    assert.equal(serials.length, 0, 'the colliding serial was tried first');
    assert.equal((await core.certificates.get(first.record.serial))?.subject, 'CN=one');
  });

  test('the inventory record, made without parsing the certificate, is what OpenSSL reads from it', async () => {
    const subjects = [
      [
        { type: 'CN', value: 'Smith, Jane #2 ' },
        { type: 'O', value: 'Groß & Söhne; "GmbH"' },
        { type: 'E', value: 'jane@example.com' },
      ],
      [
        { type: 'CN', value: 'dotted' },
        { type: '2.5.4.17', value: '80331' },
      ], // OpenSSL names this one (postalCode)
    ];
    for (const subject of subjects) {
      const issued = await core.issuer.issue({ template: 'tls-client', data: {}, names: { subject, subjectAltNames: [] }, actor: 'test' });
      const x509 = new X509Certificate(issued.record.pem);
      const stored = await core.certificates.get(issued.record.serial);
      assert.deepEqual(stored, issued.record);
      assert.equal(issued.record.subject, x509.subject.split('\n').join(', '));
      assert.equal(issued.record.notAfter, new Date(x509.validTo).getTime());
      assert.equal(issued.record.sha1, x509.fingerprint.replace(/:/g, '').toLowerCase());
      assert.equal(issued.record.sha256, x509.fingerprint256.replace(/:/g, '').toLowerCase());
      assert.equal(issued.record.pem, x509.toString());
      assert.ok(issued.cert.raw.equals(x509.raw));
    }
  });

  test('the CRL is re-signed when nextUpdate is near, not before', async () => {
    const first = await core.crls.current('dev');
    const again = await core.crls.current('dev');
    assert.ok(first.equals(again), 'served from the database while fresh');
    const sixDaysLater = Date.now() + 6.5 * 86_400_000; // validity 7d, refreshBefore 1d
    const refreshed = await core.crls.current('dev', sixDaysLater);
    assert.ok(!refreshed.equals(first));
    const number = (der: Buffer) => {
      const f = join(dir, 'n.crl');
      writeFileSync(f, der);
      return /X509v3 CRL Number: \n\s+(\d+)/.exec(openssl(['crl', '-inform', 'DER', '-in', f, '-noout', '-text']))?.[1];
    };
    assert.equal(Number(number(refreshed)), Number(number(first)) + 1);
  });

  test('a CA can be loaded from PKCS#12; the certificate that matches the key is the CA', async () => {
    const f = devPkiFiles(join(dir, 'certs'));
    const p12 = join(dir, 'issuing.p12');
    writeFileSync(
      p12,
      buildPkcs12({
        key: readKeyFile(f.issuingKey, masterKey),
        cert: new X509Certificate(readFileSync(f.issuingCert)).raw,
        chain: [new X509Certificate(readFileSync(f.rootCert)).raw],
        password: 'ca-pass-phrase',
        format: 'modern',
      }),
    );
    const ca = loadCa('imported', { pkcs12: p12, password: 'ca-pass-phrase', chain: [] }, undefined);
    assert.match(ca.cert.subject, /Issuing CA/);
    assert.equal(ca.chain.length, 1);
    assert.throws(() => loadCa('wrong', { pkcs12: p12, password: 'nope', chain: [] }, undefined), /CA wrong/);
    assert.throws(() => loadCa('leafy', { cert: f.serverCert, key: f.serverKey, chain: [] }, masterKey), /is not a CA certificate/);
  });

  test('an EC P-384 CA signs certificates and CRLs with ECDSA that OpenSSL verifies', async () => {
    const { privateKey, publicKey } = await generateKey('ec-p384');
    const signer = new NativeSigner(privateKey);
    const caCert = await buildCertificate({
      subject: [{ type: 'CN', value: 'EC Test CA' }],
      publicKey,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signer,
      ca: { pathLength: 0 },
      keyUsage: { keyCertSign: true, cRLSign: true },
    });
    const certPath = join(dir, 'ec-ca.pem');
    const keyPath = join(dir, 'ec-ca-key.pem');
    writeFileSync(certPath, caCert.pem);
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const ca = loadCa('ec', { cert: certPath, key: keyPath, chain: [] }, undefined);
    const deps = (core.issuer as unknown as { deps: ConstructorParameters<typeof Issuer>[0] }).deps;
    const issuer = new Issuer({ ...deps, cas: new CaRegistry([ca]), defaultCa: 'ec' });

    const issued = await issuer.issue({ template: 'device-identity', data: { device: { serialNumber: 'EC-DEV-1' } }, actor: 'test' });
    const leafPath = join(dir, 'ec-leaf.pem');
    writeFileSync(leafPath, issued.record.pem);
    assert.match(openssl(['verify', '-CAfile', certPath, leafPath]), /OK/);
    assert.match(openssl(['x509', '-in', leafPath, '-noout', '-text']), /Signature Algorithm: ecdsa-with-SHA384/);

    const crlPath = join(dir, 'ec.crl');
    writeFileSync(
      crlPath,
      await buildCrl({
        issuerCert: ca.cert.raw,
        signer: ca.signer,
        thisUpdate: new Date(),
        nextUpdate: new Date(Date.now() + 3_600_000),
        crlNumber: 1n,
        entries: [{ serialNumber: issued.record.serial, revokedAt: new Date(), reason: 'keyCompromise' }],
      }),
    );
    assert.match(openssl(['crl', '-inform', 'DER', '-in', crlPath, '-CAfile', certPath, '-noout', '-verify']), /verify OK/);
  });

  test('templates: DN parsing keeps escaped commas; missing attributes are named', () => {
    assert.deepEqual(parseDnTemplate('CN={{user.displayName}}, O=Example\\, Inc., OU=Mobile'), [
      ['CN', '{{user.displayName}}'],
      ['O', 'Example, Inc.'],
      ['OU', 'Mobile'],
    ]);
    const names = renderNames(
      't',
      {
        subject: 'CN={{user.displayName}}',
        subjectAltNames: [
          { type: 'email', value: '{{user.email}}' },
          { type: 'upn', value: '{{user.upn}}', optional: true },
        ],
      },
      { user: { displayName: 'Smith, Jane', email: 'jane@example.com' } },
    );
    assert.deepEqual(names, { subject: [{ type: 'CN', value: 'Smith, Jane' }], subjectAltNames: [{ type: 'email', value: 'jane@example.com' }] });
    assert.throws(
      () => renderNames('t', { subject: 'CN={{device.serialNumber}}', subjectAltNames: [] }, {}),
      (e: Error) => e instanceof TemplateError && /needs device\.serialNumber/.test(e.message),
    );
  });
});
