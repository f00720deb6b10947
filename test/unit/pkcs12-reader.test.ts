/**
 * PKCS#12 files made elsewhere, as OpenSSL writes them today and as older
 * tools did (RC2-40 certificate safes, 3DES, SHA-1 MACs, no MAC), opened
 * with the right password and refused with a wrong one; files with no key
 * or several, costly iteration counts, and certificates unfit for the
 * purpose asked are refused with a message that says so.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { explicit, int, octets, oid, parseDer, seq, toDer } from '../../src/pki/asn1.js';
import { foreignCredential, keyUsageOf } from '../../src/pki/foreign-certificate.js';
import { MAX_PKCS12_BYTES, Pkcs12ReadError, readPkcs12 } from '../../src/pki/pkcs12-reader.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';

const EXT = `
[enc]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = emailProtection
[sign]
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`;

describe('PKCS#12 files made elsewhere', () => {
  const dir = tempDir();
  const f = (name: string) => join(dir, name);
  const refused = (fn: () => unknown, message: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof Pkcs12ReadError && err.kind === 'bad_request' && message.test(err.message));
  const open = (name: string, password = 'pw') => readPkcs12(readFileSync(f(name)), password);
  const exportP12 = (name: string, key: string, cert: string, extra: string[] = []) =>
    openssl(['pkcs12', '-export', '-inkey', f(key), '-in', f(cert), '-certfile', f('ca.pem'), '-out', f(name), '-passout', 'pass:pw', ...extra]);

  before(() => {
    writeFileSync(f('ext.cnf'), EXT);
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', '5', '-subj', '/CN=Elsewhere CA']);
    const person = (name: string, newkey: string[], section: string) => {
      openssl(['req', '-new', ...newkey, '-nodes', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
      openssl([
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca-key.pem'),
        '-days',
        '2',
        '-extfile',
        f('ext.cnf'),
        '-extensions',
        section,
        '-out',
        f(`${name}.pem`),
      ]);
    };
    person('rsa', ['-newkey', 'rsa:2048'], 'enc');
    person('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'sign');
    person('ed', ['-newkey', 'ed25519'], 'sign');
  });

  test('OpenSSL 3 defaults, legacy RC2-40, 3DES with SHA-1 and no MAC all open, and a wrong password is refused for each', () => {
    const variants: [string, string[]][] = [
      ['modern.p12', []],
      ['legacy.p12', ['-legacy']],
      ['3des.p12', ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
      ['sha512-mac.p12', ['-macalg', 'sha512']],
      ['nomac.p12', ['-nomac']],
    ];
    const expected = new X509Certificate(readFileSync(f('rsa.pem')));
    for (const [name, extra] of variants) {
      exportP12(name, 'rsa-key.pem', 'rsa.pem', extra);
      const c = open(name);
      assert.equal(c.certificates.length, 2, name);
      const cred = foreignCredential(c, 'encryption');
      assert.equal(cred.cert.fingerprint256, expected.fingerprint256, name);
      assert.deepEqual(
        cred.chain.map((x) => x.subject),
        ['CN=Elsewhere CA'],
        name,
      );
      assert.equal(
        cred.key.export({ type: 'pkcs8', format: 'pem' }),
        createPrivateKey(readFileSync(f('rsa-key.pem'))).export({ type: 'pkcs8', format: 'pem' }),
        name,
      );
      refused(() => open(name, 'wrong'), /password is wrong/);
    }
  });

  test('an EC key opens; an Ed25519 key is refused: mobile key stores take RSA and EC', () => {
    exportP12('ec.p12', 'ec-key.pem', 'ec.pem');
    assert.equal(foreignCredential(open('ec.p12'), 'authentication').key.asymmetricKeyType, 'ec');
    exportP12('ed.p12', 'ed-key.pem', 'ed.pem');
    refused(() => foreignCredential(open('ed.p12'), 'authentication'), /the key is ed25519/);
  });

  test('a certificate is checked for the purpose of its slot', () => {
    assert.deepEqual([...keyUsageOf(new X509Certificate(readFileSync(f('rsa.pem'))))!], ['keyEncipherment']);
    refused(() => foreignCredential(open('modern.p12'), 'signing'), /cannot be used for signing: its keyUsage \(keyEncipherment\)/);
    refused(() => foreignCredential(open('modern.p12'), 'authentication'), /cannot be used for authentication/);
    refused(() => foreignCredential(open('ec.p12'), 'signing'), /extendedKeyUsage \(1\.3\.6\.1\.5\.5\.7\.3\.2\) does not include emailProtection/);
    refused(() => foreignCredential(open('modern.p12'), 'encryption', Date.now() + 3 * 86_400_000), /the certificate expired on/);
    refused(() => foreignCredential(open('modern.p12'), 'encryption', Date.now() - 86_400_000), /not valid before/);
  });

  test('no key, several keys, a costly iteration count, garbage and a huge file are refused', () => {
    openssl(['pkcs12', '-export', '-nokeys', '-in', f('rsa.pem'), '-out', f('nokey.p12'), '-passout', 'pass:pw']);
    refused(() => open('nokey.p12'), /holds no private key/);

    // Two unencrypted key bags in two data safes, no MAC: what a careless export of a whole key store looks like.
    const keyBag = (pem: string) =>
      seq([oid('1.2.840.113549.1.12.10.1.1'), explicit(0, parseDer(createPrivateKey(readFileSync(f(pem))).export({ type: 'pkcs8', format: 'der' })))]);
    const dataInfo = (content: Buffer) => seq([oid('1.2.840.113549.1.7.1'), explicit(0, octets(content))]);
    const authSafe = toDer(seq([dataInfo(toDer(seq([keyBag('rsa-key.pem')]))), dataInfo(toDer(seq([keyBag('ec-key.pem')])))]));
    writeFileSync(f('two-keys.p12'), toDer(seq([int(3), dataInfo(authSafe)])));
    refused(() => open('two-keys.p12'), /holds 2 private keys/);

    exportP12('costly.p12', 'rsa-key.pem', 'rsa.pem', ['-iter', '500000']);
    refused(() => open('costly.p12'), /500000 iterations; at most 100000/);

    assert.throws(() => readPkcs12(Buffer.from('definitely not DER'), 'pw'), /not a PKCS#12 file/);
    assert.throws(() => readPkcs12(Buffer.alloc(0), 'pw'), /empty/);
    assert.throws(() => readPkcs12(Buffer.alloc(MAX_PKCS12_BYTES + 1, 0x30), 'pw'), /at most 65536/);
    // Every prefix of a good file: a clean refusal, never another exception.
    const good = readFileSync(f('modern.p12'));
    for (let n = 1; n < good.length; n += 97) assert.throws(() => readPkcs12(good.subarray(0, n), 'pw'), Pkcs12ReadError, `prefix of ${n} bytes`);
    // Single flipped bytes anywhere (a seeded walk, so a failure repeats): opened or refused as a Pkcs12ReadError, nothing else.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 400; i++) {
      const damaged = Buffer.from(good);
      const at = next() % damaged.length;
      damaged[at] = damaged[at]! ^ (1 + (next() % 255));
      try {
        readPkcs12(damaged, 'pw');
      } catch (err) {
        assert.ok(err instanceof Pkcs12ReadError, `flip ${i}: ${(err as Error).stack}`);
      }
    }
  });

  test('the key of the CA itself is refused as a CA certificate, a key that is not the certificate’s as such', () => {
    openssl(['pkcs12', '-export', '-inkey', f('ca-key.pem'), '-in', f('ca.pem'), '-out', f('ca.p12'), '-passout', 'pass:pw']);
    refused(() => foreignCredential(open('ca.p12'), 'encryption'), /is a CA certificate/);
    const c = open('modern.p12');
    refused(
      () => foreignCredential({ key: createPrivateKey(readFileSync(f('ec-key.pem'))), certificates: c.certificates }, 'encryption'),
      /not the key of its certificate/,
    );
  });
});
