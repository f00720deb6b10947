/**
 * CRLs and OCSP responses checked by the real OpenSSL 3 CLI, the reference
 * relying party: if `openssl crl`/`verify`/`ocsp` accept them, clients will.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import forge from 'node-forge';
import { buildCertificate, randomSerial, type SignedCertificate } from '../../src/pki/certificate.js';
import { buildCrl } from '../../src/pki/crl.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import {
  buildOcspResponse,
  matchesIssuer,
  ocspErrorResponse,
  OcspRequestError,
  parseOcspRequest,
  type CertId,
  type OcspCertStatus,
} from '../../src/pki/ocsp.js';
import { reasonCode, reasonFromCode, REVOCATION_REASONS } from '../../src/pki/revocation.js';
import { certificateParts } from '../../src/pki/x509-der.js';
import { tempDir } from '../helpers/tmp.js';

const DAY = 86_400_000;
const dir = tempDir('credgate-crl-ocsp-');
const file = (name: string) => join(dir, name);

/** openssl with stdout and stderr together: `openssl ocsp` reports verification on stderr. */
function openssl(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Party {
  cert: SignedCertificate;
  signer: NativeSigner;
  pemFile: string;
}

let root: Party;
let issuing: Party;
let leaf1: Party;
let leaf2: Party;
const chainFile = file('chain.pem');

async function party(name: string, subject: string, issuer: Party | undefined, ca: boolean, extendedKeyUsage = ['clientAuth']): Promise<Party> {
  const keys = await generateKey('rsa-2048');
  const signer = new NativeSigner(keys.privateKey);
  const now = Date.now();
  const cert = await buildCertificate({
    subject: [
      { type: 'CN', value: subject },
      { type: 'O', value: 'credgate test' },
    ],
    publicKey: keys.publicKey,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    ...(issuer && { issuer: { cert: issuer.cert.der } }),
    signer: issuer?.signer ?? signer,
    ...(ca ? { ca: {}, keyUsage: { keyCertSign: true, cRLSign: true } } : { keyUsage: { digitalSignature: true }, extendedKeyUsage }),
  });
  const pemFile = file(`${name}.pem`);
  writeFileSync(pemFile, cert.pem);
  return { cert, signer, pemFile };
}

before(async () => {
  root = await party('root', 'credgate Test Root CA', undefined, true);
  issuing = await party('issuing', 'credgate Test Issuing CA', root, true);
  [leaf1, leaf2] = await Promise.all([party('leaf1', 'device-1', issuing, false), party('leaf2', 'device-2', issuing, false)]);
  writeFileSync(chainFile, root.cert.pem + issuing.cert.pem);
});

const derToPem = (der: Buffer, label: string) =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/** openssl prints serials as upper-case hex (colon-free for CRL entries). */
const upper = (hex: string) => hex.toUpperCase();

describe('revocation reasons', () => {
  test('RFC 5280 codes round-trip and 7 is unassigned', async () => {
    assert.deepEqual(REVOCATION_REASONS.map(reasonCode), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
    for (const r of REVOCATION_REASONS) assert.equal(reasonFromCode(reasonCode(r)), r);
    assert.throws(() => reasonFromCode(7), RangeError);
    assert.throws(() => reasonFromCode(11), RangeError);
  });
});

describe('CRL', () => {
  const thisUpdate = () => new Date(Date.now() - 60_000);
  const nextUpdate = () => new Date(Date.now() + 7 * DAY);

  test('lists revoked serials with reasons and CRL number; openssl verifies it and rejects the revoked leaf', async () => {
    const held = randomSerial();
    const topBit = `ff${randomSerial().slice(2)}`; // needs the 00 sign byte in DER
    const crl = await buildCrl({
      issuerCert: issuing.cert.der,
      signer: issuing.signer,
      thisUpdate: thisUpdate(),
      nextUpdate: nextUpdate(),
      crlNumber: 42n,
      entries: [
        { serialNumber: leaf1.cert.serialNumber, revokedAt: new Date(Date.now() - 3_600_000), reason: 'keyCompromise' },
        { serialNumber: held, revokedAt: new Date(), reason: 'certificateHold' },
        { serialNumber: topBit, revokedAt: new Date(), reason: 'unspecified' },
      ],
    });
    writeFileSync(file('x.crl'), crl);
    writeFileSync(file('crl.pem'), derToPem(crl, 'X509 CRL'));

    const text = openssl('crl', '-inform', 'DER', '-in', file('x.crl'), '-noout', '-text');
    assert.equal(text.status, 0, text.out);
    assert.match(text.out, /Version 2 \(0x1\)/);
    assert.match(text.out, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text.out, /Issuer: CN = credgate Test Issuing CA, O = credgate test/);
    assert.match(text.out, /X509v3 CRL Number:\s+42\b/);
    for (const serial of [leaf1.cert.serialNumber, held, topBit]) assert.ok(text.out.includes(`Serial Number: ${upper(serial)}`), `${serial}\n${text.out}`);
    assert.match(text.out, /Key Compromise/);
    assert.match(text.out, /Certificate Hold/);
    // "unspecified" is expressed by omitting the reasonCode extension: exactly two reason lines.
    assert.equal(text.out.match(/X509v3 CRL Reason Code/g)?.length, 2, text.out);
    // AKI matches the issuing CA's subjectKeyIdentifier, which is how clients pair CRL and CA.
    const ski = certificateParts(issuing.cert.der).subjectKeyId!.toString('hex').toUpperCase().match(/../g)!.join(':');
    assert.ok(text.out.includes(ski), `AKI ${ski} missing\n${text.out}`);

    const verified = openssl('crl', '-inform', 'DER', '-in', file('x.crl'), '-CAfile', issuing.pemFile, '-noout', '-verify');
    assert.equal(verified.status, 0, verified.out);
    assert.match(verified.out, /verify OK/);
    // Signed by the wrong CA: openssl must refuse it (guards against a vacuous "verify OK").
    const wrongCa = openssl('crl', '-inform', 'DER', '-in', file('x.crl'), '-CAfile', root.pemFile, '-noout', '-verify');
    assert.doesNotMatch(wrongCa.out, /verify OK/);

    const revoked = openssl('verify', '-crl_check', '-CRLfile', file('crl.pem'), '-CAfile', chainFile, leaf1.pemFile);
    assert.notEqual(revoked.status, 0, revoked.out);
    assert.match(revoked.out, /certificate revoked/);
    const fine = openssl('verify', '-crl_check', '-CRLfile', file('crl.pem'), '-CAfile', chainFile, leaf2.pemFile);
    assert.equal(fine.status, 0, fine.out);
    assert.match(fine.out, /leaf2\.pem: OK/);
  });

  test('an empty CRL omits revokedCertificates and still verifies', async () => {
    const crl = await buildCrl({
      issuerCert: issuing.cert.der,
      signer: issuing.signer,
      thisUpdate: thisUpdate(),
      nextUpdate: nextUpdate(),
      crlNumber: 1n,
      entries: [],
    });
    writeFileSync(file('empty.crl'), crl);
    const text = openssl('crl', '-inform', 'DER', '-in', file('empty.crl'), '-noout', '-text');
    assert.match(text.out, /No Revoked Certificates/);
    const tbs = forge.asn1.fromDer(crl.toString('binary')).value[0] as forge.asn1.Asn1;
    // version, signature, issuer, thisUpdate, nextUpdate, [0] extensions: no empty SEQUENCE in between.
    assert.equal((tbs.value as forge.asn1.Asn1[]).length, 6);
    const verified = openssl('crl', '-inform', 'DER', '-in', file('empty.crl'), '-CAfile', issuing.pemFile, '-noout', '-verify');
    assert.match(verified.out, /verify OK/);
    writeFileSync(file('empty.pem'), derToPem(crl, 'X509 CRL'));
    const ok = openssl('verify', '-crl_check', '-CRLfile', file('empty.pem'), '-CAfile', chainFile, leaf1.pemFile);
    assert.equal(ok.status, 0, ok.out);
  });

  test('UTCTime before 2050, GeneralizedTime from 2050; big CRL numbers', async () => {
    const crl = await buildCrl({
      issuerCert: issuing.cert.der,
      signer: issuing.signer,
      thisUpdate: new Date('2049-12-31T23:59:59.999Z'),
      nextUpdate: new Date('2050-01-01T00:00:00Z'),
      crlNumber: (1n << 100n) + 5n,
      entries: [],
    });
    const tbs = (forge.asn1.fromDer(crl.toString('binary')).value[0] as forge.asn1.Asn1).value as forge.asn1.Asn1[];
    assert.equal(tbs[3]!.type, forge.asn1.Type.UTCTIME);
    assert.equal(tbs[3]!.value, '491231235959Z'); // milliseconds dropped, not rounded
    assert.equal(tbs[4]!.type, forge.asn1.Type.GENERALIZEDTIME);
    assert.equal(tbs[4]!.value, '20500101000000Z');
    writeFileSync(file('future.crl'), crl);
    const text = openssl('crl', '-inform', 'DER', '-in', file('future.crl'), '-noout', '-text');
    assert.match(text.out, /Next Update: Jan {2}1 00:00:00 2050 GMT/);
    assert.match(text.out, new RegExp(`CRL Number:\\s+${(1n << 100n) + 5n}\\b`));
  });

  test('refuses inputs that would produce a misleading CRL', async () => {
    const base = { issuerCert: issuing.cert.der, signer: issuing.signer, thisUpdate: thisUpdate(), nextUpdate: nextUpdate(), crlNumber: 2n };
    const entry = { serialNumber: leaf1.cert.serialNumber, revokedAt: new Date(), reason: 'superseded' as const };
    await assert.rejects(async () => buildCrl({ ...base, signer: root.signer, entries: [] }), /does not match/);
    await assert.rejects(async () => buildCrl({ ...base, entries: [entry, { ...entry, serialNumber: `00${entry.serialNumber.toUpperCase()}` }] }), /twice/);
    await assert.rejects(async () => buildCrl({ ...base, entries: [{ ...entry, reason: 'removeFromCRL' }] }), /delta/);
    await assert.rejects(async () => buildCrl({ ...base, entries: [{ ...entry, serialNumber: '00' }] }), /positive/);
    await assert.rejects(async () => buildCrl({ ...base, entries: [{ ...entry, serialNumber: 'xyz' }] }), /hex/);
    await assert.rejects(async () => buildCrl({ ...base, nextUpdate: base.thisUpdate, entries: [] }), /nextUpdate/);
    await assert.rejects(async () => buildCrl({ ...base, crlNumber: -1n, entries: [] }), RangeError);
  });
});

describe('OCSP', () => {
  /** Lets openssl build the request, as a real client would. */
  function request(name: string, certs: Party[], ...flags: string[]): Buffer {
    const out = file(`${name}.req`);
    const r = openssl('ocsp', '-issuer', issuing.pemFile, ...flags, ...certs.flatMap((c) => ['-cert', c.pemFile]), '-reqout', out);
    assert.equal(r.status, 0, r.out);
    return readFileSync(out);
  }

  async function respond(name: string, certId: CertId | CertId[], status: OcspCertStatus | OcspCertStatus[], nonce?: Buffer): Promise<string> {
    const ids = Array.isArray(certId) ? certId : [certId];
    const statuses = Array.isArray(status) ? status : ids.map(() => status);
    const der = await buildOcspResponse({
      responderCert: issuing.cert.der,
      signer: issuing.signer,
      producedAt: new Date(),
      responses: ids.map((id, i) => ({ certId: id, status: statuses[i]!, thisUpdate: new Date(Date.now() - 60_000), nextUpdate: new Date(Date.now() + DAY) })),
      ...(nonce && { nonce }),
    });
    const out = file(`${name}.resp`);
    writeFileSync(out, der);
    return out;
  }

  /** Offline verification of a response for `leaf` against the root+issuing bundle. */
  const check = (resp: string, leaf: Party, ...extra: string[]) =>
    openssl('ocsp', '-respin', resp, '-issuer', issuing.pemFile, '-cert', leaf.pemFile, '-CAfile', chainFile, '-no_nonce', '-resp_text', ...extra);

  test('parses openssl requests: SHA-1 CertID with nonce, without nonce, SHA-256, several certificates', async () => {
    const withNonce = parseOcspRequest(request('nonce', [leaf1]));
    assert.equal(withNonce.certIds.length, 1);
    const [id] = withNonce.certIds;
    assert.equal(id!.hashAlgorithm, 'sha1');
    assert.equal(id!.hashAlgorithmOid, '1.3.14.3.2.26');
    assert.equal(id!.serialNumber, leaf1.cert.serialNumber);
    assert.equal(id!.issuerNameHash.length, 20);
    assert.equal(withNonce.nonce?.length, 16); // openssl's default nonce size
    assert.ok(matchesIssuer(id!, issuing.cert.der));
    assert.ok(!matchesIssuer(id!, root.cert.der));

    const noNonce = parseOcspRequest(request('no-nonce', [leaf2], '-no_nonce'));
    assert.equal(noNonce.nonce, undefined);
    assert.equal(noNonce.certIds[0]!.serialNumber, leaf2.cert.serialNumber);

    // -sha256 only affects CertIDs named after it on the command line.
    const sha256 = parseOcspRequest(request('sha256', [leaf1], '-sha256'));
    assert.equal(sha256.certIds[0]!.hashAlgorithm, 'sha256');
    assert.equal(sha256.certIds[0]!.issuerKeyHash.length, 32);
    assert.ok(matchesIssuer(sha256.certIds[0]!, issuing.cert.der));
    assert.ok(!matchesIssuer(sha256.certIds[0]!, root.cert.der));

    const both = parseOcspRequest(request('both', [leaf1, leaf2]));
    assert.deepEqual(
      both.certIds.map((c) => c.serialNumber),
      [leaf1.cert.serialNumber, leaf2.cert.serialNumber],
    );
  });

  test('good, revoked (keyCompromise, certificateHold) and unknown verify with openssl', async () => {
    const [id1] = parseOcspRequest(request('l1', [leaf1], '-no_nonce')).certIds;
    const [id2] = parseOcspRequest(request('l2', [leaf2], '-no_nonce')).certIds;

    const good = check(await respond('good', id2!, { kind: 'good' }), leaf2);
    assert.match(good.out, /Response verify OK/);
    assert.match(good.out, /leaf2\.pem: good/);
    assert.match(good.out, /Responder Id: [0-9A-F]{40}/); // byKey

    const revokedAt = new Date('2026-01-02T03:04:05Z');
    const compromised = check(await respond('kc', id1!, { kind: 'revoked', revokedAt, reason: 'keyCompromise' }), leaf1);
    assert.match(compromised.out, /Response verify OK/);
    assert.match(compromised.out, /leaf1\.pem: revoked/);
    assert.match(compromised.out, /Reason: keyCompromise/);
    assert.match(compromised.out, /Revocation Time: Jan {2}2 03:04:05 2026 GMT/);

    const held = check(await respond('hold', id1!, { kind: 'revoked', revokedAt, reason: 'certificateHold' }), leaf1);
    assert.match(held.out, /Response verify OK/);
    assert.match(held.out, /leaf1\.pem: revoked/);
    assert.match(held.out, /Reason: certificateHold/);

    const unknown = check(await respond('unknown', id2!, { kind: 'unknown' }), leaf2);
    assert.match(unknown.out, /Response verify OK/);
    assert.match(unknown.out, /leaf2\.pem: unknown/);

    // Naming the CA as the validation authority explicitly works too (responder = CA).
    const va = check(file('good.resp'), leaf2, '-VAfile', issuing.pemFile);
    assert.match(va.out, /Response verify OK/);

    // A response signed by a key that is not the issuer's must fail: the checks above are not vacuous.
    const rogue = await buildOcspResponse({
      responderCert: root.cert.der,
      signer: root.signer,
      producedAt: new Date(),
      responses: [{ certId: id2!, status: { kind: 'good' }, thisUpdate: new Date() }],
    });
    writeFileSync(file('rogue.resp'), rogue);
    assert.doesNotMatch(check(file('rogue.resp'), leaf2).out, /Response verify OK/);
  });

  test('a delegated OCSP signing certificate (id-kp-OCSPSigning) travels in certs and verifies', async () => {
    // By OID: forge has no name for id-kp-OCSPSigning and would silently emit an empty EKU.
    const delegate = await party('ocsp-signer', 'credgate OCSP responder', issuing, false, ['1.3.6.1.5.5.7.3.9']);
    const [id] = parseOcspRequest(request('delegated', [leaf1], '-no_nonce')).certIds;
    const der = await buildOcspResponse({
      responderCert: delegate.cert.der,
      signer: delegate.signer,
      producedAt: new Date(),
      responses: [{ certId: id!, status: { kind: 'revoked', revokedAt: new Date(), reason: 'cessationOfOperation' }, thisUpdate: new Date() }],
      includeCerts: [issuing.cert.der, delegate.cert.der], // the duplicate is dropped
    });
    writeFileSync(file('delegated.resp'), der);
    const r = check(file('delegated.resp'), leaf1);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /leaf1\.pem: revoked[\s\S]*Reason: cessationOfOperation/);
    assert.equal(r.out.match(/^Certificate:$/gm)?.length, 2, 'responder + issuing CA, no duplicate');
    // Without the delegate in certs, the client could not find the signer: the certs field is what makes this work.
    assert.match(r.out, /Subject: CN=credgate OCSP responder/);
  });

  test('several CertIDs in one response, SHA-256 CertIDs echoed', async () => {
    const req = parseOcspRequest(request('multi', [leaf1, leaf2], '-no_nonce', '-sha256'));
    const resp = await respond('multi', req.certIds, [{ kind: 'revoked', revokedAt: new Date(), reason: 'superseded' }, { kind: 'good' }]);
    const r = openssl('ocsp', '-respin', resp, '-reqin', file('multi.req'), '-CAfile', chainFile, '-resp_text');
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /Hash Algorithm: sha256/);
    assert.match(r.out, /Cert Status: revoked[\s\S]*Reason: superseded[\s\S]*Cert Status: good/);
  });

  test('the nonce is echoed and openssl checks it against the request', async () => {
    const req = parseOcspRequest(request('nonce-check', [leaf2]));
    assert.ok(req.nonce);
    const echoed = await respond('nonce-ok', req.certIds[0]!, { kind: 'good' }, req.nonce);
    // Without -issuer/-cert openssl uses the loaded request, and compares its nonce with the response's.
    const ok = openssl('ocsp', '-respin', echoed, '-reqin', file('nonce-check.req'), '-CAfile', chainFile, '-resp_text');
    assert.match(ok.out, /Response verify OK/);
    assert.doesNotMatch(ok.out, /Nonce Verify error|WARNING: no nonce/);
    assert.match(ok.out, /OCSP Nonce:\s+0410[0-9A-F]{32}/); // OCTET STRING (16 octets), as RFC 8954 wraps it

    const missing = openssl(
      'ocsp',
      '-respin',
      await respond('nonce-missing', req.certIds[0]!, { kind: 'good' }),
      '-reqin',
      file('nonce-check.req'),
      '-CAfile',
      chainFile,
    );
    assert.match(missing.out, /WARNING: no nonce in response/);
    const wrong = openssl(
      'ocsp',
      '-respin',
      await respond('nonce-wrong', req.certIds[0]!, { kind: 'good' }, randomBytes(16)),
      '-reqin',
      file('nonce-check.req'),
      '-CAfile',
      chainFile,
    );
    assert.match(wrong.out, /Nonce Verify error/);
  });

  test('error responses parse with openssl', async () => {
    for (const [status, text] of [
      ['malformedRequest', 'malformedrequest (1)'],
      ['internalError', 'internalerror (2)'],
      ['tryLater', 'trylater (3)'],
      ['sigRequired', 'sigrequired (5)'],
      ['unauthorized', 'unauthorized (6)'],
    ] as const) {
      writeFileSync(file(`${status}.resp`), ocspErrorResponse(status));
      const r = openssl('ocsp', '-respin', file(`${status}.resp`), '-resp_text');
      assert.ok(r.out.includes(`Responder Error: ${text}`), r.out);
    }
    assert.deepEqual(ocspErrorResponse('malformedRequest'), Buffer.from('30030a0101', 'hex'));
  });

  test('refuses to sign with a key that does not match the responder certificate, or an OCSP removeFromCRL', async () => {
    const [id] = parseOcspRequest(request('refuse', [leaf1], '-no_nonce')).certIds;
    const base = { responderCert: issuing.cert.der, signer: issuing.signer, producedAt: new Date() };
    await assert.rejects(
      async () => buildOcspResponse({ ...base, signer: root.signer, responses: [{ certId: id!, status: { kind: 'good' }, thisUpdate: new Date() }] }),
      /does not match/,
    );
    await assert.rejects(
      async () =>
        buildOcspResponse({
          ...base,
          responses: [{ certId: id!, status: { kind: 'revoked', revokedAt: new Date(), reason: 'removeFromCRL' }, thisUpdate: new Date() }],
        }),
      /removeFromCRL/,
    );
    await assert.rejects(async () => buildOcspResponse({ ...base, responses: [] }), /at least one/);
  });

  describe('malformed requests only ever throw OcspRequestError', () => {
    const onlyOcspErrors = (der: Buffer) => {
      try {
        parseOcspRequest(der);
        return true;
      } catch (err) {
        assert.ok(err instanceof OcspRequestError, `${der.toString('hex')}: ${String(err)}`);
        return false;
      }
    };

    test('empty, random and hostile-shaped input', async () => {
      assert.throws(() => parseOcspRequest(Buffer.alloc(0)), OcspRequestError);
      for (let i = 0; i < 2000; i++) {
        const junk = randomBytes(1 + (i % 300));
        if (i % 3 === 0) junk[0] = 0x30; // start like a SEQUENCE to get past the first byte
        assert.equal(onlyOcspErrors(junk), false);
      }
      const hostile = [
        Buffer.from('3084ffffffff', 'hex'), // absurd length
        Buffer.from('30', 'hex'),
        Buffer.from('3000', 'hex'),
        Buffer.from('30023000', 'hex'), // TBSRequest without requestList
        Buffer.from('300430023000', 'hex'), // empty requestList
        Buffer.concat(Array.from({ length: 5000 }, () => Buffer.from('3080', 'hex'))), // deep indefinite nesting
        Buffer.from(`1f${'81'.repeat(10)}`, 'hex'), // high tag number form
      ];
      for (const der of hostile) assert.equal(onlyOcspErrors(der), false, der.toString('hex').slice(0, 40));
    });

    test('truncated, extended and bit-flipped valid requests', async () => {
      const valid = request('fuzz', [leaf1, leaf2]);
      assert.equal(onlyOcspErrors(valid), true);
      for (let n = 0; n < valid.length; n++) assert.equal(onlyOcspErrors(valid.subarray(0, n)), false, `prefix ${n}`);
      assert.equal(onlyOcspErrors(Buffer.concat([valid, Buffer.from([0])])), false);
      for (let i = 0; i < 3000; i++) {
        const mutated = Buffer.from(valid);
        const at = i % mutated.length;
        mutated[at] = mutated[at]! ^ (1 << (i % 8));
        onlyOcspErrors(mutated); // may still be valid (e.g. a flipped hash byte); must not throw anything else
      }
    });

    test('non-DER encodings and RFC 8954 nonce limits are rejected', async () => {
      const valid = request('ber', [leaf1], '-no_nonce');
      // Same request with the outer length in long form: valid BER, not DER.
      assert.ok(valid[1]! < 0x80);
      const ber = Buffer.concat([Buffer.from([0x30, 0x81, valid[1]!]), valid.subarray(2)]);
      assert.throws(() => parseOcspRequest(ber), /not DER/);

      const withNonce = (nonce: Buffer) => {
        const ext = seqDer(Buffer.concat([der(6, Buffer.from('2b0601050507300102', 'hex')), der(4, der(4, nonce))]));
        const reqList = der(0x30, der(0x30, parseOcspRequest(valid).certIds[0]!.raw));
        return der(0x30, der(0x30, Buffer.concat([reqList, der(0xa2, seqDer(ext))])));
      };
      assert.equal(parseOcspRequest(withNonce(Buffer.alloc(32, 7))).nonce?.length, 32);
      assert.throws(() => parseOcspRequest(withNonce(Buffer.alloc(33, 7))), /1 to 32/);
      assert.throws(() => parseOcspRequest(withNonce(Buffer.alloc(0))), /1 to 32/);
    });
  });
});

/** Minimal DER TLV for hand-made test requests (lengths < 65536). */
function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  const header = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}
const seqDer = (content: Buffer) => der(0x30, content);
