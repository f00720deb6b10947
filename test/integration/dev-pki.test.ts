/**
 * The generated dev PKI and PKCS#12 files, checked with OpenSSL 3 as an
 * operator or a peer would check them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { devPkiFiles, ensureDevPki } from '../../src/pki/dev-pki.js';
import { createMasterKeyFile } from '../../src/pki/master-key.js';
import { generateKey } from '../../src/pki/keys.js';
import { buildPkcs12, type Pkcs12Format } from '../../src/pki/pkcs12.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs openssl; returns stdout and stderr together (-info writes to stderr), throws on failure. */
function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}
const options = { organization: 'credgate dev', serverNames: ['localhost', '127.0.0.1', '::1'], adminSubject: 'credgate-admin' };

describe('dev PKI', () => {
  let dir: string;
  let f: ReturnType<typeof devPkiFiles>;
  let masterKey: Buffer;

  before(async () => {
    dir = join(tempDir(), 'certs');
    masterKey = createMasterKeyFile(dir);
    const { created } = await ensureDevPki({ dir, masterKey, ...options });
    f = devPkiFiles(dir);
    assert.deepEqual(created, [f.rootCert, f.issuingCert, f.serverCert, f.adminP12, f.scepRaCert, f.otaSigningCert, f.contentSigningCert]);
  });

  test('the server certificate chains to the root and names localhost and 127.0.0.1', () => {
    assert.match(openssl(['verify', '-CAfile', f.rootCert, '-untrusted', f.issuingCert, '-purpose', 'sslserver', f.serverCert]), /OK/);
    const cert = new X509Certificate(readFileSync(f.serverCert));
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  });

  test('private keys and secrets are 0600, encrypted, and open with the master key', () => {
    for (const p of [f.rootKey, f.issuingKey, f.serverKey, f.contentSigningKey, f.adminP12, f.adminPassword, join(dir, 'master.key')]) {
      assert.equal(statSync(p).mode & 0o777, 0o600, p);
    }
    for (const p of [f.rootKey, f.issuingKey, f.serverKey, f.contentSigningKey]) {
      assert.match(readFileSync(p, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.doesNotThrow(() => openssl(['pkey', '-in', p, '-passin', `file:${join(dir, 'master.key')}`, '-noout']));
    }
  });

  test('the content-signing certificate is EC P-256, for signing only, and chains to the root', () => {
    assert.match(openssl(['verify', '-CAfile', f.rootCert, '-untrusted', f.issuingCert, f.contentSigningCert]), /OK/);
    const text = openssl(['x509', '-in', f.contentSigningCert, '-noout', '-text']);
    assert.match(text, /NIST CURVE: P-256/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\s*\n/);
  });

  test('the admin PKCS#12 opens with OpenSSL 3 (no -legacy) and holds key, cert and chain', () => {
    const out = openssl(['pkcs12', '-in', f.adminP12, '-passin', `file:${f.adminPassword}`, '-nodes']);
    assert.equal(out.match(/BEGIN CERTIFICATE/g)?.length, 3);
    assert.match(out, /BEGIN PRIVATE KEY/);
    assert.match(out, /friendlyName: credgate-admin/);
    assert.match(out, /subject=CN = credgate-admin, O = credgate dev/);
    assert.match(openssl(['verify', '-CAfile', f.rootCert, '-untrusted', f.issuingCert, '-purpose', 'sslclient', f.adminCert]), /OK/);
  });

  test('a second run reuses every file', async () => {
    const before = readFileSync(f.serverCert, 'utf8') + readFileSync(f.adminP12, 'base64');
    const { created } = await ensureDevPki({ dir, masterKey, ...options });
    assert.deepEqual(created, []);
    assert.equal(readFileSync(f.serverCert, 'utf8') + readFileSync(f.adminP12, 'base64'), before);
  });
});

describe('PKCS#12 formats', () => {
  for (const [format, expect] of [
    ['modern', { mac: /MAC: sha256/, key: /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/, certs: /PKCS7 Data/ }],
    ['apple', { mac: /MAC: sha1/, key: /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/, certs: /PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC/ }],
  ] as const) {
    test(`${format}: OpenSSL 3 opens it without -legacy and the key matches the certificate`, async () => {
      const dir = tempDir();
      const { privateKey, publicKey } = await generateKey('rsa-2048');
      const keyFile = join(dir, 'key.pem');
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const pem = openssl(['req', '-x509', '-new', '-subj', '/CN=p12 test', '-key', keyFile, '-days', '1']);
      const cert = new X509Certificate(pem);
      const password = 'pässwörd with spaces';
      const p12 = buildPkcs12({ key: privateKey, cert: cert.raw, password, friendlyName: 'Signing – Alice', format: format as Pkcs12Format });
      const path = join(dir, `${format}.p12`);
      writeFileSync(path, p12);
      const info = openssl(['pkcs12', '-in', path, '-passin', `pass:${password}`, '-info', '-noout']);
      assert.match(info, expect.mac);
      assert.match(info, expect.key);
      assert.match(info, expect.certs);
      const out = openssl(['pkcs12', '-in', path, '-passin', `pass:${password}`, '-nodes']);
      // OpenSSL prints BMPString names byte-wise; check the encoding in the DER instead.
      assert.match(out, /friendlyName: Signing . Alice/);
      if (format === 'modern') assert.ok(p12.includes(Buffer.from('Signing – Alice', 'utf16le').swap16()), 'friendlyName is UTF-16BE');
      assert.match(out, /localKeyID: /);
      const keyPem = out.slice(out.indexOf('-----BEGIN PRIVATE KEY-----'), out.indexOf('-----END PRIVATE KEY-----') + 25);
      const modulus = (args: string[], input: string) => openssl(args, input).trim();
      assert.equal(modulus(['rsa', '-modulus', '-noout'], keyPem), modulus(['x509', '-modulus', '-noout'], pem));
      assert.equal(publicKey.export({ type: 'spki', format: 'pem' }), cert.publicKey.export({ type: 'spki', format: 'pem' }));
      assert.throws(() => openssl(['pkcs12', '-in', path, '-passin', 'pass:wrong', '-info', '-noout']), /mac verify failure|invalid password/i);
    });
  }
});
