/**
 * The issuance core through the admin API, checked with OpenSSL: issue from
 * a CSR and with server keys, escrow and recovery, revoke/hold/release with
 * CRL and OCSP, inventory, audit. Forge's pure-JS RSA private-key code is
 * made to throw for the whole file: every private-key operation must be native.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import forge from 'node-forge';
import { DEFAULT_TEMPLATES } from '../../src/config/schema.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl, opensslStatus } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';

const ALICE = { displayName: 'Alice Example', email: 'alice@example.com', upn: 'alice@corp.example', userName: 'alice' };

function forbidPureJsRsa(): () => void {
  // biome-ignore lint/suspicious/noExplicitAny: the replacements below take forge's own argument shapes
  const rsa = forge.pki.rsa as unknown as Record<string, (...a: any[]) => unknown>;
  const saved = { encrypt: rsa.encrypt!, decrypt: rsa.decrypt!, generateKeyPair: rsa.generateKeyPair! };
  rsa.encrypt = function (m: unknown, key: { d?: unknown }, bt: unknown) {
    if (key && key.d !== undefined) throw new Error('pure-JS RSA private-key operation (sign) attempted');
    return saved.encrypt.call(this, m, key, bt);
  };
  rsa.decrypt = function (ed: unknown, key: unknown, pub: boolean, ml: unknown) {
    if (!pub) throw new Error('pure-JS RSA private-key operation (decrypt) attempted');
    return saved.decrypt.call(this, ed, key, pub, ml);
  };
  rsa.generateKeyPair = () => {
    throw new Error('pure-JS RSA key generation attempted');
  };
  return () => Object.assign(rsa, saved);
}

describe('issuance core', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let admin: string[];
  let chainFile: string;
  let restoreForge: () => void;

  const api = (path: string, body?: unknown, args: string[] = admin) =>
    curl(`${base}/api/v1${path}`, [
      ...args,
      ...(body === undefined ? [] : ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);

  const csr = (name: string, bits = 2048, subj = `/CN=${name}`): string => {
    const key = join(dir, `${name}-key.pem`);
    openssl(['genrsa', '-out', key, String(bits)]);
    return openssl(['req', '-new', '-key', key, '-subj', subj]);
  };

  const certFile = (name: string, pem: string) => {
    const p = join(dir, `${name}.pem`);
    writeFileSync(p, pem);
    return p;
  };

  before(async () => {
    restoreForge = forbidPureJsRsa();
    gw = await startTestGateway({
      overrides: {
        server: { publicUrl: 'https://pki.example.test' },
        templates: {
          ...DEFAULT_TEMPLATES,
          'smime-encryption-ec': {
            preset: 'smime-encryption',
            subject: 'CN={{user.displayName}}',
            subjectAltNames: [{ type: 'email', value: '{{user.email}}' }],
            key: 'ec-p256',
          },
        },
      },
    });
    base = `https://localhost:${gw.port}`;
    dir = gw.dir;
    admin = adminCurlArgs(join(dir, 'certs'));
    chainFile = join(dir, 'chain.pem');
    writeFileSync(chainFile, readFileSync(join(dir, 'certs/root-ca.pem'), 'utf8') + readFileSync(join(dir, 'certs/issuing-ca.pem'), 'utf8'));
  });
  after(async () => {
    await gw.stop();
    restoreForge();
  });

  test('from a CSR: the certificate chains, carries the template subject, key usages and publication URLs', async () => {
    const r = await api('/certificates', { template: 'tls-client', csr: csr('bob'), user: { userName: 'bob' }, userId: 'u-bob' });
    assert.equal(r.status, 201, r.body);
    const { certificate, chainPem, pkcs12 } = r.json() as { certificate: { pem: string; serial: string; subject: string }; chainPem: string; pkcs12?: string };
    assert.equal(pkcs12, undefined, 'no key is returned for a CSR');
    assert.match(chainPem, /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
    const leaf = certFile('bob', certificate.pem);
    assert.match(openssl(['verify', '-CAfile', chainFile, '-purpose', 'sslclient', leaf]), /OK/);
    const text = openssl(['x509', '-in', leaf, '-noout', '-text']);
    assert.match(text, /Subject: CN = bob/);
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /URI:https:\/\/pki\.example\.test\/pki\/dev\.crl/);
    assert.match(text, /OCSP - URI:https:\/\/pki\.example\.test\/pki\/ocsp/);
    assert.match(text, /CA Issuers - URI:https:\/\/pki\.example\.test\/pki\/ca\/dev\.cer/);
    assert.match(certificate.serial, /^[0-7][0-9a-f]{31}$/, '16 random bytes, positive');
  });

  test('server key generation: S/MIME signing PKCS#12 opens with OpenSSL, with email and UPN names', async () => {
    const r = await api('/certificates', { template: 'smime-signing', user: ALICE, userId: 'u-alice' });
    assert.equal(r.status, 201, r.body);
    const body = r.json() as { pkcs12: string; pkcs12Password: string; certificate: { keyEscrowed: boolean } };
    assert.equal(body.certificate.keyEscrowed, false, 'signing keys are never kept');
    const p12 = join(dir, 'alice-sign.p12');
    writeFileSync(p12, Buffer.from(body.pkcs12, 'base64'));
    const out = openssl(['pkcs12', '-in', p12, '-passin', `pass:${body.pkcs12Password}`, '-nodes']);
    assert.match(out, /BEGIN PRIVATE KEY/);
    const leaf = certFile('alice-sign', out.slice(out.indexOf('-----BEGIN CERTIFICATE-----'), out.indexOf('-----END CERTIFICATE-----') + 25));
    const text = openssl(['x509', '-in', leaf, '-noout', '-text']);
    assert.match(text, /Digital Signature, Non Repudiation/);
    assert.match(text, /E-mail Protection/);
    assert.match(text, /email:alice@example\.com/);
    assert.match(text, /othername: UPN:alice@corp\.example|othername: UPN::alice@corp\.example|UPN.*alice@corp\.example/);
    assert.match(openssl(['verify', '-CAfile', chainFile, '-purpose', 'smimesign', leaf]), /OK/);
    assert.equal((await gw.db('escrowed_keys').count({ n: '*' }).first())?.n, 0);
  });

  test('apple format PKCS#12 uses 3DES and a SHA-1 MAC', async () => {
    const r = await api('/certificates', { template: 'device-identity', device: { serialNumber: 'C02XYZ', id: 'dev-1' }, deviceId: 'dev-1', format: 'apple' });
    assert.equal(r.status, 201, r.body);
    const body = r.json() as { pkcs12: string; pkcs12Password: string };
    const p12 = join(dir, 'device.p12');
    writeFileSync(p12, Buffer.from(body.pkcs12, 'base64'));
    const info = openssl(['pkcs12', '-in', p12, '-passin', `pass:${body.pkcs12Password}`, '-info', '-noout']);
    assert.match(info, /MAC: sha1/);
    assert.match(info, /pbeWithSHA1And3-KeyTripleDES-CBC/);
  });

  test('encryption keys are escrowed; only a key-recovery officer gets them back, audited', async () => {
    const r = await api('/certificates', { template: 'smime-encryption', user: ALICE, userId: 'u-alice' });
    assert.equal(r.status, 201, r.body);
    const { certificate } = r.json() as { certificate: { serial: string; keyEscrowed: boolean; pem: string } };
    assert.equal(certificate.keyEscrowed, true);
    const row = await gw.db('escrowed_keys').where({ serial: certificate.serial }).first();
    assert.ok(row && !String(row.wrapped).includes('PRIVATE KEY'), 'stored wrapped');

    const { token: adminOnly } = await import('../../src/store/tokens.js').then(({ TokenRepository }) =>
      new TokenRepository(gw.db).create({ name: 'plain-admin', roles: ['admin'] }),
    );
    const ca = ['--cacert', join(dir, 'certs/root-ca.pem')];
    const denied = await api(`/certificates/${certificate.serial}/recover-key`, { reason: 'mailbox migration' }, [
      ...ca,
      '-H',
      `Authorization: Bearer ${adminOnly}`,
    ]);
    assert.equal(denied.status, 403);
    assert.equal((await api(`/certificates/${certificate.serial}/recover-key`, {})).status, 400, 'a reason is required');

    const rec = await api(`/certificates/${certificate.serial}/recover-key`, { reason: 'mailbox migration' });
    assert.equal(rec.status, 200, rec.body);
    const { pkcs12, pkcs12Password } = rec.json() as { pkcs12: string; pkcs12Password: string };
    const p12 = join(dir, 'recovered.p12');
    writeFileSync(p12, Buffer.from(pkcs12, 'base64'));
    const keyPem = openssl(['pkcs12', '-in', p12, '-passin', `pass:${pkcs12Password}`, '-nocerts', '-nodes']);
    const leaf = certFile('alice-enc', certificate.pem);
    assert.equal(openssl(['pkey', '-pubout'], keyPem.slice(keyPem.indexOf('-----BEGIN'))), openssl(['x509', '-in', leaf, '-noout', '-pubkey']));

    const audit = await api(`/audit?subjectId=${certificate.serial}`);
    const actions = (audit.json().entries as { action: string; actor: string; reason: string | null }[]).map((e) => [e.action, e.actor, e.reason]);
    assert.deepEqual(actions, [
      ['key.recover', 'client-cert:admin', 'mailbox migration'],
      ['certificate.issue', 'client-cert:admin', null],
    ]);
  });

  test('EC keys: P-256 requests are certified, EC server keys get keyAgreement; UTF-8 names survive', async () => {
    const ecCsr = (name: string, curve: string) => {
      const key = join(dir, `${name}-ec.pem`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', key]);
      return openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`]);
    };
    const r = await api('/certificates', { template: 'tls-client', csr: ecCsr('ec-user', 'P-256'), user: { userName: 'Jürgen Groß' } });
    assert.equal(r.status, 201, r.body);
    const leaf = certFile('ec-user', (r.json() as { certificate: { pem: string } }).certificate.pem);
    assert.match(openssl(['verify', '-CAfile', chainFile, '-purpose', 'sslclient', leaf]), /OK/);
    const text = openssl(['x509', '-in', leaf, '-noout', '-text', '-nameopt', 'utf8,sep_comma_plus_space']);
    assert.match(text, /id-ecPublicKey/);
    assert.match(text, /NIST CURVE: P-256/);
    assert.match(text, /Subject: CN=Jürgen Groß/);
    assert.match(openssl(['asn1parse', '-in', leaf]), /UTF8STRING\s*:J/, 'display names are UTF8String');

    const p521 = await api('/certificates', { template: 'tls-client', csr: ecCsr('p521', 'P-521'), user: { userName: 'p521' } });
    assert.equal(p521.status, 400);
    assert.match(String(p521.json().message), /curve secp521r1 is not allowed; allowed curves: P-256, P-384/);

    const gen = await api('/certificates', { template: 'smime-encryption-ec', user: ALICE, format: 'apple' });
    assert.equal(gen.status, 201, gen.body);
    const body = gen.json() as { pkcs12: string; pkcs12Password: string };
    const p12 = join(dir, 'alice-ec.p12');
    writeFileSync(p12, Buffer.from(body.pkcs12, 'base64'));
    const out = openssl(['pkcs12', '-in', p12, '-passin', `pass:${body.pkcs12Password}`, '-nodes']);
    const ecLeaf = certFile('alice-ec', out.slice(out.indexOf('-----BEGIN CERTIFICATE-----'), out.indexOf('-----END CERTIFICATE-----') + 25));
    const ecText = openssl(['x509', '-in', ecLeaf, '-noout', '-text']);
    assert.match(ecText, /id-ecPublicKey/);
    assert.match(ecText, /Key Usage: critical\s+Key Agreement\s/);
    assert.match(openssl(['pkey', '-noout', '-text'], out.slice(out.indexOf('-----BEGIN PRIVATE KEY-----'))), /NIST CURVE: P-256/);
  });

  test('bad requests are 400 with the reason and store nothing', async () => {
    const count = async () => Number((await gw.db('certificates').count({ n: '*' }).first())?.n);
    const before = await count();
    const weak = await api('/certificates', { template: 'tls-client', csr: csr('weak', 1024), user: { userName: 'weak' } });
    assert.equal(weak.status, 400);
    assert.match(String(weak.json().message), /1024 bits/);
    const good = csr('tampered');
    const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 40]! ^= 0xff; // inside the signature
    const tampered = await api('/certificates', { template: 'tls-client', csr: der.toString('base64'), user: { userName: 'x' } });
    assert.equal(tampered.status, 400);
    assert.match(String(tampered.json().message), /signature/);
    const garbage = await api('/certificates', { template: 'tls-client', csr: 'not a csr at all', user: { userName: 'x' } });
    assert.equal(garbage.status, 400);
    assert.match(String(garbage.json().message), /unreadable certificate request/);
    const unknown = await api('/certificates', { template: 'nope', user: ALICE });
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.json().message), /unknown template "nope"/);
    const missing = await api('/certificates', { template: 'smime-signing', user: { displayName: 'No Mail' } });
    assert.equal(missing.status, 400);
    assert.match(String(missing.json().message), /needs user\.email/);
    const escrowCsr = await api('/certificates', { template: 'smime-encryption', csr: good, user: ALICE });
    assert.equal(escrowCsr.status, 400);
    assert.equal(await count(), before);
  });

  test('names and references wider than the inventory keeps are 400 and store nothing, rather than cut short (or a 500 from MySQL)', async () => {
    const count = async () => Number((await gw.db('certificates').count({ n: '*' }).first())?.n);
    const before = await count();
    const key = csr('wide');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ template: 'tls-client', csr: key, user: { userName: 'u'.repeat(1100) } }, /subject is 1103 characters long; at most 1024/],
      [{ template: 'tls-client', csr: key, user: { userName: 'wide' }, userId: 'i'.repeat(192) }, /user id is 192 characters long; at most 191/],
      [{ template: 'tls-client', csr: key, user: { userName: 'wide' }, deviceId: 'd'.repeat(192) }, /device id is 192 characters long; at most 191/],
      [{ template: 'tls-client', csr: key, user: { userName: 'wide', upn: `${'p'.repeat(70_000)}@corp.example` } }, /subjectAltNames are \d+ bytes as JSON/],
    ];
    for (const [body, message] of cases) {
      const r = await api('/certificates', body);
      assert.equal(r.status, 400, r.body.slice(0, 200));
      assert.match(String(r.json().message), message);
    }
    assert.equal(await count(), before);
    const widest = await api('/certificates', { template: 'tls-client', csr: key, user: { userName: 'w'.repeat(1021) }, userId: 'i'.repeat(191) });
    assert.equal(widest.status, 201, 'exactly as wide as the columns is kept');
  });

  test('revoke, hold and release show in the CRL and in OCSP (GET and POST)', async () => {
    const issue = async (name: string) => {
      const r = await api('/certificates', { template: 'tls-client', csr: csr(name), user: { userName: name }, userId: `u-${name}` });
      const c = (r.json() as { certificate: { serial: string; pem: string } }).certificate;
      return { serial: c.serial, file: certFile(name, c.pem) };
    };
    const [compromised, held, fine] = [await issue('carol'), await issue('dave'), await issue('erin')];
    const issuing = join(dir, 'certs/issuing-ca.pem');

    assert.equal((await api(`/certificates/${compromised.serial}/revoke`, { reason: 'keyCompromise', note: 'laptop stolen' })).status, 200);
    assert.equal((await api(`/certificates/${held.serial}/hold`, {})).status, 200);
    assert.equal((await api(`/certificates/${compromised.serial}/revoke`, { reason: 'superseded' })).status, 409, 'already revoked');
    assert.equal((await api(`/certificates/${fine.serial}/revoke`, { reason: 'bogus' })).status, 400);
    assert.equal((await api('/certificates/00ff00ff/revoke', { reason: 'keyCompromise' })).status, 404);

    const crlFile = join(dir, 'dev.crl');
    const crl = await curl(`${base}/pki/dev.crl`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', crlFile]);
    assert.equal(crl.status, 200);
    const crlText = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    assert.match(crlText, new RegExp(`Serial Number: ${compromised.serial.toUpperCase()}[\\s\\S]+?Key Compromise`));
    assert.match(crlText, new RegExp(`Serial Number: ${held.serial.toUpperCase()}[\\s\\S]+?Certificate Hold`));
    assert.ok(!crlText.includes(fine.serial.toUpperCase()));
    assert.match(openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', chainFile, '-noout']), /verify OK/);

    const ocsp = async (leaf: string, method: 'GET' | 'POST') => {
      const req = join(dir, 'ocsp.req');
      const resp = join(dir, 'ocsp.resp');
      openssl(['ocsp', '-issuer', issuing, '-cert', leaf, '-reqout', req]);
      const der = readFileSync(req);
      const r =
        method === 'POST'
          ? await curl(`${base}/pki/ocsp`, [
              '--cacert',
              join(dir, 'certs/root-ca.pem'),
              '-H',
              'Content-Type: application/ocsp-request',
              '--data-binary',
              `@${req}`,
              '-o',
              resp,
            ])
          : await curl(`${base}/pki/ocsp/${encodeURIComponent(der.toString('base64'))}`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', resp]);
      assert.equal(r.status, 200);
      // With -reqin alone openssl checks the signature and that our answer echoes the request's nonce ...
      assert.match(openssl(['ocsp', '-reqin', req, '-respin', resp, '-CAfile', chainFile]), /Response verify OK/);
      // ... and with -issuer/-cert it names the status (its own new request has another nonce).
      return openssl(['ocsp', '-respin', resp, '-CAfile', chainFile, '-issuer', issuing, '-cert', leaf, '-no_nonce']);
    };
    const revokedAnswer = await ocsp(compromised.file, 'POST');
    assert.match(revokedAnswer, /Response verify OK/);
    assert.match(revokedAnswer, /: revoked[\s\S]+Reason: keyCompromise/);
    assert.match(await ocsp(held.file, 'GET'), /: revoked[\s\S]+Reason: certificateHold/);
    assert.match(await ocsp(fine.file, 'POST'), /: good/);

    assert.equal((await api(`/certificates/${held.serial}/release`, {})).status, 200);
    assert.match(await ocsp(held.file, 'GET'), /: good/);
    await curl(`${base}/pki/dev.crl`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', crlFile]);
    const after = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    assert.ok(!after.includes(held.serial.toUpperCase()), 'released certificates leave the CRL');
    assert.ok(after.includes(compromised.serial.toUpperCase()));
    const crlPem = join(dir, 'dev-crl.pem');
    openssl(['crl', '-inform', 'DER', '-in', crlFile, '-out', crlPem]);
    assert.match(openssl(['verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', crlPem, fine.file]), /OK/);
    const refused = opensslStatus(['verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', crlPem, compromised.file]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.output, /certificate revoked/);

    const audit = (await api(`/audit?subjectId=${held.serial}`)).json().entries as { action: string }[];
    assert.deepEqual(
      audit.map((e) => e.action),
      ['certificate.release', 'certificate.hold', 'certificate.issue'],
    );
  });

  test('malformed OCSP requests get an OCSP error response, not an HTTP error', async () => {
    const resp = join(dir, 'bad.resp');
    const r = await curl(`${base}/pki/ocsp`, ['--cacert', join(dir, 'certs/root-ca.pem'), '--data-binary', 'garbage', '-o', resp]);
    assert.equal(r.status, 200);
    assert.match(opensslStatus(['ocsp', '-respin', resp, '-resp_text', '-noverify']).output, /Responder Error: malformedrequest/);
  });

  test('OCSP by GET decodes the URL once: a request with "%25" in its path gets malformedRequest, not a 500', async () => {
    const cacert = ['--cacert', join(dir, 'certs/root-ca.pem')];
    const req = join(dir, 'once.req');
    openssl(['ocsp', '-issuer', join(dir, 'certs/issuing-ca.pem'), '-serial', '0x0123456789abcdef', '-reqout', req]);
    const base64 = readFileSync(req).toString('base64');
    for (const path of ['%25ZZ', '%25', '%2525', encodeURIComponent(encodeURIComponent(base64))]) {
      const resp = join(dir, 'once.resp');
      const r = await curl(`${base}/pki/ocsp/${path}`, [...cacert, '-o', resp]);
      assert.equal(r.status, 200, `GET /pki/ocsp/${path.slice(0, 40)}`);
      assert.match(opensslStatus(['ocsp', '-respin', resp, '-resp_text', '-noverify']).output, /Responder Error: malformedrequest/, path.slice(0, 40));
    }
    // Base64 as clients send it, raw or percent-encoded once, is still read.
    for (const path of [base64, encodeURIComponent(base64)]) {
      const resp = join(dir, 'once.resp');
      assert.equal((await curl(`${base}/pki/ocsp/${path}`, [...cacert, '-o', resp])).status, 200);
      assert.match(openssl(['ocsp', '-reqin', req, '-respin', resp, '-CAfile', chainFile]), /Response verify OK/);
    }
    assert.ok(!gw.logs().includes('URI malformed'), 'no decoding error was logged');
  });

  test('inventory filters and CA certificate downloads', async () => {
    const alice = (await api('/certificates?user=u-alice')).json().certificates as { template: string }[];
    assert.deepEqual(alice.map((c) => c.template).sort(), ['smime-encryption', 'smime-signing']);
    const revoked = (await api('/certificates?status=revoked')).json().certificates as { userId: string }[];
    assert.deepEqual(
      revoked.map((c) => c.userId),
      ['u-carol'],
    );
    const soon = (await api(`/certificates?expiringBefore=${new Date(Date.now() + 400 * 86_400_000).toISOString()}`)).json().certificates as unknown[];
    const later = (await api(`/certificates?expiringBefore=${new Date(Date.now() + 800 * 86_400_000).toISOString()}`)).json().certificates as unknown[];
    assert.ok(later.length > soon.length, 'the 730-day device certificate appears only in the longer window');
    assert.equal((await api('/certificates?status=lost')).status, 400);
    const der = join(dir, 'dev.cer');
    assert.equal((await curl(`${base}/pki/ca/dev.cer`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', der])).status, 200);
    assert.match(openssl(['x509', '-inform', 'DER', '-in', der, '-noout', '-subject']), /Issuing CA/);
    assert.equal((await curl(`${base}/pki/ca/nope.cer`, ['--cacert', join(dir, 'certs/root-ca.pem')])).status, 404);
  });
});
