/**
 * Certificates not issued here, as an administrator and a phone live them:
 * a PKCS#12 that `openssl pkcs12 -export` made from a key and a certificate
 * of a separate CA (made by openssl here) is uploaded for a person; a
 * mobile ID whose profile has an `unmanaged` slot delivers it through
 * /mobile/v1, and `openssl pkcs12` finds the same certificate and key in
 * what the phone got. The key and the password are nowhere in the database
 * file or the log; revoke, hold and release are refused and no CRL entry
 * appears; bad uploads get a clear 4xx and change nothing; a newer upload
 * supersedes, a delete destroys the key, and a request for someone without
 * an upload is refused in MyID's words.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { buildCertificate } from '../../src/pki/certificate.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { buildPkcs12 } from '../../src/pki/pkcs12.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { issueOtherPkcs12, makeOtherCa, type OtherCa } from '../helpers/other-ca.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { assertNoSecrets, dumpDatabase, keySecrets, type Secret } from '../helpers/secret-scan.js';
import { tempDir } from '../helpers/tmp.js';

type Json = Record<string, unknown>;
interface Credential {
  serial: string;
  template: string;
  container: string;
  kind: string;
  tag: string;
  pkcs12: string;
  password: string;
}

const EXTENSIONS = `
[encryption]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:jane@example.com

[signing]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:jane@example.com
`;
const NO_CERTIFICATES = "None of the selected user's certificates are configured to be allowed to be put on a mobile phone.";

describe('certificates issued elsewhere (unmanaged)', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let work: string;
  let rootPem: Buffer;
  let otherCa: OtherCa;
  const secrets: Secret[] = [];
  /** Distinct PKCS#12 passwords, one per file. */
  const password = (name: string) => {
    const p = `${name}-Pfx-Secret-${Math.random().toString(36).slice(2, 12)}`;
    secrets.push({ what: `password of ${name}`, value: p });
    return p;
  };

  const api = (method: string, path: string, body?: unknown, extra: string[] = []) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(join(dir, 'certs')),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
      ...extra,
    ]);
  const upload = (user: string, file: string, pass: string, purpose: string) =>
    api('POST', `/users/${user}/certificates`, { pkcs12: readFileSync(join(work, file)).toString('base64'), password: pass, purpose });
  const uploads = async (user: string) => ((await api('GET', `/users/${user}/certificates`)).json().certificates as Json[]).map((c) => [c.serial, c.state]);
  const inventory = async () => ((await api('GET', '/certificates?limit=1000')).json().certificates as Json[]).map((c) => c.serial).sort();
  const phone = {
    start: (body: Json) => request(base).post('/mobile/v1/sessions').ca(rootPem).send(body),
    fetch: (token: string) => request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${token}`),
    ack: (token: string) => request(base).post('/mobile/v1/ack').ca(rootPem).set('Authorization', `Bearer ${token}`),
  };
  /** Requests a mobile ID (code on screen), starts a session and fetches; returns the credentials. */
  const collect = async (user: string, credentialProfile: string, serial: string) => {
    const r = await api('POST', '/mobile-ids', { user, credentialProfile });
    assert.equal(r.status, 201, r.body);
    const { mobileId, code } = r.json() as { mobileId: { id: string }; code: string };
    const s = await phone.start({ request: mobileId.id, code, device: { serial, platform: 'android', keyStores: ['system-store'] } });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const got = await phone.fetch(s.body.token as string);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    const credentials = got.body.credentials as Credential[];
    for (const c of credentials) secrets.push({ what: `delivery password of ${c.serial}`, value: c.password });
    return { mobileId: mobileId.id, token: s.body.token as string, credentials };
  };
  const pemOf = (c: Credential) => {
    const file = join(work, `delivered-${c.serial}-${Math.random().toString(36).slice(2)}.p12`);
    writeFileSync(file, Buffer.from(c.pkcs12, 'base64'));
    return { file, pem: openssl(['pkcs12', '-in', file, '-passin', `pass:${c.password}`, '-nodes']) };
  };
  const fingerprint = (pem: string) => openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem).trim();
  const crlText = async () => {
    const file = join(work, `dev-${Date.now()}.crl`);
    const r = await curl(`${base}/pki/dev.crl`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', file]);
    assert.equal(r.status, 200);
    return openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
  };
  const serialOf = (file: string) => new X509Certificate(readFileSync(join(work, file))).serialNumber.toLowerCase().replace(/^(00)+/, '');

  /** A key and a certificate of the other CA, and the PKCS#12 `openssl pkcs12 -export` makes of them. */
  const person = (name: string, extensions: 'encryption' | 'signing') => {
    const pass = password(name);
    issueOtherPkcs12(otherCa, { name, subject: `/O=Other Bank/CN=${name}`, days: 30, extfile: join(work, 'ext.cnf'), extensions, password: pass });
    secrets.push(...keySecrets(`key of ${name}`, createPrivateKey(readFileSync(join(work, `${name}-key.pem`)))));
    return pass;
  };

  before(async () => {
    dir = tempDir();
    work = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        credentialProfiles: {
          'outside-encryption': {
            certificates: [{ template: 'smime-signing' }, { unmanaged: 'encryption', container: 'system-store' }],
          },
        },
      },
    });
    rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
    const imported = await api('POST', '/users/import', [
      { userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com' },
      { userName: 'bob', displayName: 'Bob Jones', email: 'bob@example.com' },
    ]);
    assert.equal(imported.status, 200, imported.body);

    writeFileSync(join(work, 'ext.cnf'), EXTENSIONS);
    otherCa = makeOtherCa(work, { subject: '/O=Other Bank/CN=Other Bank Issuing CA', days: 60, keyUsage: 'keyCertSign,cRLSign' });
  });
  after(async () => {
    await gw?.stop();
  });

  test('upload → inventory marks it unmanaged → the phone collects it → openssl finds the same certificate and key; nothing secret at rest', async () => {
    const pass = person('jane', 'encryption');
    const r = await upload('jane', 'jane.p12', pass, 'encryption');
    assert.equal(r.status, 201, r.body);
    const uploaded = r.json().certificate as Json;
    const serial = serialOf('jane.pem');
    assert.equal(uploaded.serial, serial);
    assert.equal(uploaded.purpose, 'encryption');
    assert.equal(uploaded.state, 'current');
    assert.equal(uploaded.unmanaged, true);
    assert.equal(uploaded.issuer, 'O=Other Bank, CN=Other Bank Issuing CA');
    assert.equal(uploaded.sha256, new X509Certificate(readFileSync(join(work, 'jane.pem'))).fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(JSON.stringify(r.json()).includes(pass), false, 'the answer does not repeat the password');
    assert.equal(r.json().warnings, undefined, "the certificate names jane's own address");

    const listed = (await api('GET', `/certificates/${serial}`)).json().certificate as Json;
    assert.equal(listed.unmanaged, true);
    assert.equal(listed.ca, '(unmanaged)');
    assert.equal(listed.status, 'valid');
    assert.equal(listed.keyEscrowed, true);
    const all = (await api('GET', '/certificates?limit=1000')).json().certificates as Json[];
    assert.ok(
      all.some((c) => c.serial === serial && c.unmanaged === true),
      'GET /api/v1/certificates lists it, marked unmanaged',
    );
    const audit = (await api('GET', `/audit?subjectId=${serial}&action=certificate.upload`)).json().entries as Json[];
    assert.equal(audit.length, 1);
    assert.match(JSON.stringify(audit[0]), /Other Bank Issuing CA/);
    assert.match(String(audit[0]!.actor), /admin/);

    const { token, credentials } = await collect('jane', 'outside-encryption', 'UNMANAGED1');
    assert.deepEqual(
      credentials.map((c) => [c.template, c.kind, c.tag]),
      [
        ['smime-signing', 'new', 'signing'],
        ['unmanaged:encryption', 'unmanaged', 'encryption'],
      ],
    );
    const delivered = credentials[1]!;
    assert.equal(delivered.serial, serial);
    const { file, pem } = pemOf(delivered);
    assert.equal(fingerprint(pem), fingerprint(readFileSync(join(work, 'jane.pem'), 'utf8')), 'the same certificate');
    assert.equal(openssl(['pkey'], pem), openssl(['pkey', '-in', join(work, 'jane-key.pem')]), 'the same private key, re-sealed under the delivery password');
    const cas = openssl(['pkcs12', '-in', file, '-passin', `pass:${delivered.password}`, '-cacerts', '-nokeys']);
    assert.equal(fingerprint(cas), fingerprint(readFileSync(join(work, 'other-ca.pem'), 'utf8')), 'the issuer that came in the upload travels with it');
    assert.equal((await phone.ack(token)).status, 200);
    const mobileId = (await api('GET', '/mobile-ids?user=jane')).json().mobileIds as Json[];
    const uploadExpiry = Date.parse(new X509Certificate(readFileSync(join(work, 'jane.pem'))).validTo);
    assert.equal(mobileId[0]!.notAfter, uploadExpiry, 'renewal notices count the upload, which expires first');
    assert.deepEqual(mobileId[0]!.serials, [credentials[0]!.serial], 'only the certificate issued here is the mobile ID’s to revoke');

    // A key-recovery officer gets it back with the same issuers.
    const recovered = (await api('POST', `/certificates/${serial}/recover-key`, { reason: 'mail archive' })).json() as {
      pkcs12: string;
      pkcs12Password: string;
    };
    secrets.push({ what: 'recovery password', value: recovered.pkcs12Password });
    const recoveredFile = join(work, 'recovered.p12');
    writeFileSync(recoveredFile, Buffer.from(recovered.pkcs12, 'base64'));
    const recoveredCas = openssl(['pkcs12', '-in', recoveredFile, '-passin', `pass:${recovered.pkcs12Password}`, '-cacerts', '-nokeys']);
    assert.equal(fingerprint(recoveredCas), fingerprint(readFileSync(join(work, 'other-ca.pem'), 'utf8')));

    const deliveredAudit = (await api('GET', `/audit?subjectId=${serial}&action=key.deliver`)).json().entries as Json[];
    assert.equal(deliveredAudit.length, 1, 'the key leaving is audited');

    // At rest: the database file (and its WAL) and the log hold neither the key nor any password.
    const dbFile = join(dir, 'data/credgate.db');
    const files = [dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
    assertNoSecrets(secrets, { 'database file': files.join('\n'), 'database rows': await dumpDatabase(gw.db), log: gw.logs() });
  });

  test('revoke, hold and release are refused with a clear message; no CRL entry is ever made; cancelling the mobile ID leaves it alone', async () => {
    const serial = serialOf('jane.pem');
    for (const action of ['revoke', 'hold', 'release']) {
      const r = await api('POST', `/certificates/${serial}/${action}`, action === 'revoke' ? { reason: 'keyCompromise' } : {});
      assert.equal(r.status, 409, `${action}: ${r.body}`);
      assert.match(
        r.json().message as string,
        new RegExp(`credgate cannot ${action} certificate ${serial}: it did not issue it \\(issuer: O=Other Bank, CN=Other Bank Issuing CA\\)`),
      );
    }
    assert.equal(((await api('GET', `/certificates/${serial}`)).json().certificate as Json).status, 'valid');

    const mobileIds = (await api('GET', '/mobile-ids?user=jane')).json().mobileIds as Json[];
    const issued = mobileIds.find((m) => m.status === 'issued')!;
    const cancelled = await api('POST', `/mobile-ids/${issued.id}/cancel`, { reason: 'keyCompromise' });
    assert.equal(cancelled.status, 200, cancelled.body);
    assert.equal(((await api('GET', `/certificates/${serial}`)).json().certificate as Json).status, 'valid', 'the upload is not ours to revoke');
    const crl = await crlText();
    const ours = (issued.serials as string[])[0]!;
    assert.match(crl, new RegExp(ours.toUpperCase()), 'the certificate issued here is on the CRL');
    assert.doesNotMatch(crl, new RegExp(serial.toUpperCase()), 'the uploaded one never is');
  });

  test('bad uploads get a clear 4xx and change nothing', async () => {
    const before = { uploads: await uploads('jane'), inventory: await inventory() };
    const rejected = async (label: string, r: Promise<{ status: number; body: string }>, status: number, message: RegExp) => {
      const got = await r;
      assert.equal(got.status, status, `${label}: ${got.body}`);
      assert.match(got.body, message, label);
    };
    // A person's certificate with the wrong password, and files that are not what they should be.
    const pass = person('mallory', 'encryption');
    await rejected('wrong password', upload('jane', 'mallory.p12', 'not-the-password', 'encryption'), 400, /password is wrong/);
    await rejected(
      'garbage',
      api('POST', '/users/jane/certificates', {
        pkcs12: Buffer.from('this is not a PKCS#12 file at all').toString('base64'),
        password: pass,
        purpose: 'encryption',
      }),
      400,
      /not a PKCS#12 file/,
    );
    await rejected('not base64', api('POST', '/users/jane/certificates', { pkcs12: '%%%', password: pass, purpose: 'encryption' }), 400, /base64/);
    await rejected('no purpose', api('POST', '/users/jane/certificates', { pkcs12: 'AAAA', password: pass }), 400, /purpose/);
    await rejected('unknown user', upload('nobody', 'mallory.p12', pass, 'encryption'), 404, /no user nobody/);
    await rejected('wrong purpose', upload('jane', 'mallory.p12', pass, 'signing'), 400, /cannot be used for signing: its keyUsage \(keyEncipherment\)/);

    // The other CA's own certificate and key.
    const caPass = password('other-ca');
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      join(work, 'other-ca-key.pem'),
      '-in',
      join(work, 'other-ca.pem'),
      '-out',
      join(work, 'other-ca.p12'),
      '-passout',
      `pass:${caPass}`,
    ]);
    await rejected('a CA certificate', upload('jane', 'other-ca.p12', caPass, 'encryption'), 400, /is a CA certificate/);

    // A certificate with a key that is not its own.
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const mismatchPass = password('mismatch');
    const mismatched = buildPkcs12({
      key: stranger,
      cert: new X509Certificate(readFileSync(join(work, 'mallory.pem'))).raw,
      password: mismatchPass,
      format: 'modern',
    });
    writeFileSync(join(work, 'mismatch.p12'), mismatched);
    await rejected('a key that is not the certificate’s', upload('jane', 'mismatch.p12', mismatchPass, 'encryption'), 400, /not the key of its certificate/);

    // No key at all.
    const noKeyPass = password('no-key');
    openssl(['pkcs12', '-export', '-nokeys', '-in', join(work, 'mallory.pem'), '-out', join(work, 'nokey.p12'), '-passout', `pass:${noKeyPass}`]);
    await rejected('no key', upload('jane', 'nokey.p12', noKeyPass, 'encryption'), 400, /holds no private key/);

    // An expired certificate of the other CA, exported by openssl like the others.
    const expiredKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const caKey = createPrivateKey(readFileSync(join(work, 'other-ca-key.pem')));
    const expired = await buildCertificate({
      subject: [
        { type: 'O', value: 'Other Bank' },
        { type: 'CN', value: 'Expired' },
      ],
      publicKey: expiredKey,
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
      issuer: { cert: new X509Certificate(readFileSync(join(work, 'other-ca.pem'))).raw },
      signer: new NativeSigner(caKey),
      keyUsage: { keyEncipherment: true },
      extendedKeyUsage: ['emailProtection'],
    });
    writeFileSync(join(work, 'expired.pem'), expired.pem);
    writeFileSync(join(work, 'expired-key.pem'), expiredKey.export({ type: 'pkcs8', format: 'pem' }));
    const expiredPass = password('expired');
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      join(work, 'expired-key.pem'),
      '-in',
      join(work, 'expired.pem'),
      '-out',
      join(work, 'expired.p12'),
      '-passout',
      `pass:${expiredPass}`,
    ]);
    await rejected('expired', upload('jane', 'expired.p12', expiredPass, 'encryption'), 400, /the certificate expired on/);

    // One of our own certificates: delivered as issued, never as an upload.
    const issued = await api('POST', '/certificates', { template: 'smime-encryption', user: { displayName: 'Jane Smith', email: 'jane@example.com' } });
    assert.equal(issued.status, 201, issued.body);
    const i = issued.json() as { pkcs12: string; pkcs12Password: string; certificate: { serial: string } };
    before.inventory = [...before.inventory, i.certificate.serial].sort();
    secrets.push({ what: 'issued p12 password', value: i.pkcs12Password });
    writeFileSync(join(work, 'ours.p12'), Buffer.from(i.pkcs12, 'base64'));
    await rejected('issued here', upload('jane', 'ours.p12', i.pkcs12Password, 'encryption'), 400, /issued by credgate's CA ."dev."/);

    // Too large, as JSON and as multipart, and without credentials.
    const huge = Buffer.alloc(70 * 1024, 7).toString('base64');
    await rejected('huge', api('POST', '/users/jane/certificates', { pkcs12: huge, password: pass, purpose: 'encryption' }), 413, /at most 65536/);
    writeFileSync(join(work, 'huge.p12'), Buffer.alloc(300 * 1024, 7));
    await rejected(
      'huge multipart',
      api('POST', '/users/jane/certificates', undefined, ['-F', `pkcs12=@${join(work, 'huge.p12')}`, '-F', 'purpose=encryption']),
      413,
      /limit|at most/,
    );
    const anonymous = await curl(`${base}/api/v1/users/jane/certificates`, [
      '--cacert',
      join(dir, 'certs/root-ca.pem'),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify({ pkcs12: readFileSync(join(work, 'mallory.p12')).toString('base64'), password: pass, purpose: 'encryption' }),
    ]);
    assert.equal(anonymous.status, 401, anonymous.body);

    assert.deepEqual({ uploads: await uploads('jane'), inventory: await inventory() }, before, 'nothing changed');
    assert.doesNotMatch(gw.logs(), /"status":5\d\d/, 'no 5xx');
  });

  test('a request for someone without the upload is refused in MyID words; a newer upload supersedes; delete destroys the key', async () => {
    const refused = await api('POST', '/mobile-ids', { user: 'bob', credentialProfile: 'outside-encryption' });
    assert.equal(refused.status, 400, refused.body);
    assert.ok((refused.json().message as string).startsWith(NO_CERTIFICATES), refused.body);

    const first = serialOf('jane.pem');
    // A newer certificate for the same purpose, sent as a browser form or `curl -F` sends it.
    const pass = person('jane-2026', 'encryption');
    writeFileSync(join(work, 'jane-2026.pass'), pass);
    const r = await api('POST', '/users/jane/certificates', undefined, [
      '-F',
      `pkcs12=@${join(work, 'jane-2026.p12')};type=application/x-pkcs12`,
      '-F',
      `password=<${join(work, 'jane-2026.pass')}`,
      '-F',
      'purpose=encryption',
    ]);
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json().warnings, undefined);
    const second = serialOf('jane-2026.pem');
    assert.deepEqual(await uploads('jane'), [
      [second, 'current'],
      [first, 'superseded'],
    ]);
    const { credentials } = await collect('jane', 'outside-encryption', 'UNMANAGED3');
    assert.equal(credentials.find((c) => c.kind === 'unmanaged')?.serial, second, 'the newer upload is delivered');

    const deleted = await api('DELETE', `/users/jane/certificates/${second}`);
    assert.equal(deleted.status, 200, deleted.body);
    assert.equal((await api('GET', `/certificates/${second}`)).status, 404, 'out of the inventory');
    assert.equal(await gw.db('escrowed_keys').where({ serial: second }).first(), undefined, 'its sealed key is destroyed');
    assert.equal((await api('DELETE', `/users/bob/certificates/${first}`)).status, 404, "another person's upload is not found through bob");
    // Only a superseded one is left: nothing current to deliver.
    const none = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'outside-encryption' });
    assert.equal(none.status, 400, none.body);
    assert.ok((none.json().message as string).startsWith(NO_CERTIFICATES));

    // A certificate naming someone else's address is kept (a person may have an address the directory lacks), with a warning.
    const bobPass = person('jane-signing', 'signing');
    const forBob = await upload('bob', 'jane-signing.p12', bobPass, 'signing');
    assert.equal(forBob.status, 201, forBob.body);
    assert.deepEqual(forBob.json().warnings, ["the certificate names jane@example.com, not bob's address bob@example.com: check that it is bob's"]);
  });
});
