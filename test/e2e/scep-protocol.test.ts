/**
 * SCEP message handling beyond what scepclient exercises: every content
 * cipher and digest, several recipients, approval with CertPoll, GetCert
 * and GetCRL, certmonger's scep-submit, and bad input of every kind, each
 * answered with a signed CertRep, never a 5xx.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { octets, printable } from '../../src/pki/asn1.js';
import { parseEnvelopedData } from '../../src/pki/cms/enveloped-data.js';
import { buildSignedData, parseSignedData } from '../../src/pki/cms/signed-data.js';
import type { ScepService } from '../../src/protocols/scep/service.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { deviceCsr, issuerAndSerial, issuerAndSubject, newDevice, pkiMessage, readCertRep, rsaSigner, type Identity } from '../helpers/scep-client.js';

const STATIC = 'static-secret-for-tests';

describe('SCEP protocol', () => {
  let gw: TestGateway;
  let base: string;
  let certs: string;
  let ra: X509Certificate;
  let ca: X509Certificate;
  let root: X509Certificate;

  const post = (path: string, body: Buffer | undefined, method = 'POST'): Promise<{ status: number; type: string; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${base}${path}`,
        { method, ca: readFileSync(join(certs, 'root-ca.pem')), headers: { 'content-type': 'application/x-pki-message' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const operation = async (profile: string, der: Buffer) => {
    const r = await post(`/scep${profile === 'default' ? '' : `/${profile}`}?operation=PKIOperation`, der);
    assert.equal(r.status, 200, r.body.toString());
    assert.match(r.type, /application\/x-pki-message/);
    return r.body;
  };
  const enrollMessage = async (device: Identity, challenge: string | undefined, extra: Partial<Parameters<typeof pkiMessage>[0]> = {}) =>
    pkiMessage({
      type: 'PKCSReq',
      inner: deviceCsr(device, [{ type: 'CN', value: device.cert.subject.replace(/^CN=/, '') }], challenge),
      signer: device,
      recipients: [ra],
      ...extra,
    });
  const admin = (path: string, method = 'GET', body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(certs),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);

  before(async () => {
    gw = await startTestGateway({
      overrides: {
        scep: {
          profiles: {
            default: {},
            mdm: { challenge: { static: STATIC } },
            tls: { template: 'tls-client', challenge: { static: STATIC } },
            approve: { challenge: 'none', approval: true },
          },
        },
        server: { http: { port: 0 } },
      },
    });
    base = `https://localhost:${gw.port}`;
    certs = join(gw.dir, 'certs');
    ra = new X509Certificate(readFileSync(join(certs, 'scep-ra.pem')));
    ca = new X509Certificate(readFileSync(join(certs, 'issuing-ca.pem')));
    root = new X509Certificate(readFileSync(join(certs, 'root-ca.pem')));
  });
  after(async () => {
    await gw.stop();
  });

  test('every content cipher and digest a client may use; the answer is encrypted the same way and verifies with openssl', async () => {
    for (const cipher of ['des-cbc', 'des-ede3-cbc', 'aes-128-cbc', 'aes-256-cbc'] as const) {
      for (const digest of ['sha1', 'sha256', 'sha512'] as const) {
        const device = await newDevice(`matrix-${cipher}-${digest}`);
        const req = await enrollMessage(device, STATIC, { cipher, digest });
        const der = await operation('mdm', req.der);
        const rep = readCertRep(der, ra, device);
        assert.equal(rep.status, 'SUCCESS', `${cipher}/${digest}: ${rep.failInfo}`);
        assert.equal(rep.transactionId, req.transactionId);
        assert.deepEqual(rep.recipientNonce, req.senderNonce);
        assert.equal(parseEnvelopedData(parseSignedData(der).content!).cipher, cipher, 'the answer uses the request cipher');
        assert.ok(rep.certificates[0]!.verify(ca.publicKey));
        assert.equal(
          rep.certificates[0]!.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
          device.cert.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
        );
      }
    }
    // An independent reader: OpenSSL verifies the RA's signature up to the dev root and decrypts with the device key.
    const device = await newDevice('openssl-reader');
    const der = await operation('mdm', (await enrollMessage(device, STATIC, { cipher: 'aes-256-cbc' })).der);
    const dir = gw.dir;
    writeFileSync(join(dir, 'rep.der'), der);
    writeFileSync(join(dir, 'dev.pem'), device.cert.toString());
    writeFileSync(join(dir, 'dev.key'), device.key.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'trust.pem'), readFileSync(join(certs, 'issuing-ca.pem'), 'utf8') + readFileSync(join(certs, 'root-ca.pem'), 'utf8'));
    openssl([
      'cms',
      '-verify',
      '-inform',
      'DER',
      '-in',
      join(dir, 'rep.der'),
      '-CAfile',
      join(dir, 'trust.pem'),
      '-purpose',
      'any',
      '-out',
      join(dir, 'env.der'),
      '-binary',
    ]);
    openssl([
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      join(dir, 'env.der'),
      '-recip',
      join(dir, 'dev.pem'),
      '-inkey',
      join(dir, 'dev.key'),
      '-out',
      join(dir, 'certs.p7'),
      '-binary',
    ]);
    assert.match(openssl(['pkcs7', '-inform', 'DER', '-in', join(dir, 'certs.p7'), '-print_certs', '-noout']), /subject=CN ?= ?openssl-reader/);
  });

  test('several recipients in any order: the RA finds its own', async () => {
    for (const recipients of [
      [ca, ra, root],
      [root, ca, ra],
    ]) {
      const device = await newDevice('multi');
      const rep = readCertRep(await operation('mdm', (await enrollMessage(device, STATIC, { recipients })).der), ra, device);
      assert.equal(rep.status, 'SUCCESS');
    }
  });

  test('approval: PENDING, listed for operators, CertPoll collects after approval; resends get the same answer; rejection is final', async () => {
    const device = await newDevice('needs-approval');
    const req = await enrollMessage(device, undefined);
    assert.equal(readCertRep(await operation('approve', req.der), ra, device).status, 'PENDING');
    const poll = () =>
      pkiMessage({ type: 'CertPoll', inner: issuerAndSubject(ca, device.cert), signer: device, recipients: [ra], transactionId: req.transactionId }).then(
        async (m) => readCertRep(await operation('approve', m.der), ra, device),
      );
    assert.equal((await poll()).status, 'PENDING');

    const list = await admin('/scep/requests?profile=approve');
    assert.equal(list.status, 200, list.body);
    const pending = (list.json().requests as { id: number; transactionId: string; subject: string; status: string }[]).find(
      (r) => r.transactionId === req.transactionId,
    );
    assert.ok(pending, 'the request is listed');
    assert.equal(pending.status, 'pending');
    assert.match(pending.subject, /needs-approval/);
    assert.ok(!('csr' in pending) && !('keySha256' in pending));

    const approved = await admin(`/scep/requests/${pending.id}/approve`, 'POST', {});
    assert.equal(approved.status, 200, approved.body);
    assert.equal(approved.json().status, 'issued');
    const collected = await poll();
    assert.equal(collected.status, 'SUCCESS');
    assert.equal(collected.certificates[0]!.serialNumber.toLowerCase(), approved.json().serial);
    const resent = readCertRep(await operation('approve', req.der), ra, device);
    assert.equal(resent.certificates[0]!.serialNumber, collected.certificates[0]!.serialNumber, 'a resent PKCSReq gets the same certificate');
    assert.equal((await admin(`/scep/requests/${pending.id}/reject`, 'POST', { reason: 'too late' })).status, 409);
    const audit = await gw
      .db('audit')
      .where({ action: 'scep.approve', subject_id: String(pending.id) })
      .first();
    assert.equal(audit?.actor, 'client-cert:admin');

    const refused = await newDevice('refused');
    const r2 = await enrollMessage(refused, undefined);
    await operation('approve', r2.der);
    const id = (await gw.db('scep_transactions').where({ transaction_id: r2.transactionId }).first()).id as number;
    const rejected = await admin(`/scep/requests/${id}/reject`, 'POST', { reason: 'unknown device' });
    assert.equal(rejected.status, 200, rejected.body);
    assert.equal(rejected.json().reason, 'unknown device');
    const answer = readCertRep(await operation('approve', r2.der), ra, refused);
    assert.equal(answer.status, 'FAILURE');
    assert.equal(answer.failInfo, 'badRequest');
    assert.equal((await admin('/scep/requests/999999/approve', 'POST', {})).status, 404);
  });

  test('a RenewalReq keeps the names and the template of the certificate it renews, or it needs the challenge', async () => {
    const device = await newDevice('renew-names');
    const first = readCertRep(await operation('mdm', (await enrollMessage(device, STATIC)).der), ra, device);
    assert.equal(first.status, 'SUCCESS');
    const holder: Identity = { key: device.key, cert: first.certificates[0]! };
    const renewal = (cn: string, profile: string, challenge?: string) =>
      pkiMessage({ type: 'RenewalReq', inner: deviceCsr(holder, [{ type: 'CN', value: cn }], challenge), signer: holder, recipients: [ra] }).then(async (m) =>
        readCertRep(await operation(profile, m.der), ra, holder),
      );
    const other = await renewal('someone-else', 'mdm');
    assert.equal(other.status, 'FAILURE', 'another subject is not a renewal');
    assert.equal(other.failInfo, 'badRequest');
    const elsewhere = await renewal('renew-names', 'tls');
    assert.equal(elsewhere.status, 'FAILURE', "a certificate of another profile's template does not renew into this one");
    const same = await renewal('renew-names', 'mdm');
    assert.equal(same.status, 'SUCCESS', 'the same names renew without a challenge');
    assert.match(same.certificates[0]!.subject, /CN=renew-names/);
    const withChallenge = await renewal('someone-else', 'mdm', STATIC);
    assert.equal(withChallenge.status, 'SUCCESS', 'with the challenge it is an enrollment of its own');
    const refused = (await gw.db('scep_transactions').where({ profile: 'mdm', status: 'rejected' }).select('reason')) as { reason: string }[];
    assert.ok(
      refused.some((r) => /keeps the subject/.test(r.reason)),
      JSON.stringify(refused),
    );
  });

  test('GetCert returns an issued certificate by issuer and serial; GetCRL the current CRL', async () => {
    const device = await newDevice('getcert');
    const issued = readCertRep(await operation('mdm', (await enrollMessage(device, STATIC)).der), ra, device).certificates[0]!;
    const got = readCertRep(
      await operation('mdm', (await pkiMessage({ type: 'GetCert', inner: issuerAndSerial(issued), signer: device, recipients: [ra] })).der),
      ra,
      device,
    );
    assert.equal(got.status, 'SUCCESS');
    assert.equal(got.certificates[0]!.fingerprint256, issued.fingerprint256);

    const stranger = await newDevice('not-issued-here');
    const missing = readCertRep(
      await operation('mdm', (await pkiMessage({ type: 'GetCert', inner: issuerAndSerial(stranger.cert), signer: device, recipients: [ra] })).der),
      ra,
      device,
    );
    assert.equal(missing.status, 'FAILURE');
    assert.equal(missing.failInfo, 'badCertId');

    const crl = readCertRep(
      await operation('mdm', (await pkiMessage({ type: 'GetCRL', inner: issuerAndSerial(issued), signer: device, recipients: [ra] })).der),
      ra,
      device,
    );
    assert.equal(crl.status, 'SUCCESS');
    assert.equal(crl.crls.length, 1);
    writeFileSync(join(gw.dir, 'scep.crl'), crl.crls[0]!);
    assert.match(
      openssl(['crl', '-inform', 'DER', '-in', join(gw.dir, 'scep.crl'), '-CAfile', join(certs, 'issuing-ca.pem'), '-noout', '-issuer']),
      /Issuing CA/,
    );
  });

  test("certmonger's scep-submit over plain HTTP: GET PKIOperation, nonce and signature checked, the certificate decrypts", async () => {
    // scep-submit passes its CA file to libcurl only for GetCACaps, so it speaks plain HTTP as most SCEP clients do.
    const url = `http://127.0.0.1:${gw.httpPort}/scep/mdm`;
    // -N is the trust anchor the RA's signature must chain to; -I the intermediates.
    const args = ['-u', url, '-r', join(certs, 'scep-ra.pem'), '-N', join(certs, 'root-ca.pem'), '-I', join(certs, 'issuing-ca.pem')];
    const submit = (extra: string[], message?: Buffer) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const file = join(gw.dir, `scep-submit-${randomBytes(4).toString('hex')}.pem`);
        if (message) writeFileSync(file, `-----BEGIN PKCS7-----\n${message.toString('base64').replace(/(.{64})(?=.)/g, '$1\n')}\n-----END PKCS7-----\n`);
        execFile('/usr/lib/certmonger/scep-submit', [...args, ...extra, ...(message ? [file] : [])], { timeout: 30_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
        );
      });

    const caps = await submit(['-c']);
    assert.equal(caps.code, 0, caps.stderr);
    assert.match(caps.stdout, /SCEPStandard/);

    const device = await newDevice('certmonger-device');
    const run = await submit(['-p'], (await enrollMessage(device, STATIC)).der);
    assert.equal(run.code, 0, `${run.code}: ${run.stdout} ${run.stderr}`);
    const envelope = Buffer.from(run.stdout.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    writeFileSync(join(gw.dir, 'cm-env.der'), envelope);
    writeFileSync(join(gw.dir, 'cm.pem'), device.cert.toString());
    writeFileSync(join(gw.dir, 'cm.key'), device.key.export({ type: 'pkcs8', format: 'pem' }));
    openssl([
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      join(gw.dir, 'cm-env.der'),
      '-recip',
      join(gw.dir, 'cm.pem'),
      '-inkey',
      join(gw.dir, 'cm.key'),
      '-out',
      join(gw.dir, 'cm.p7'),
      '-binary',
    ]);
    assert.match(openssl(['pkcs7', '-inform', 'DER', '-in', join(gw.dir, 'cm.p7'), '-print_certs', '-noout']), /subject=CN ?= ?certmonger-device/);

    const refused = await submit(['-p'], (await enrollMessage(await newDevice('certmonger-wrong'), 'not-the-secret')).der);
    assert.equal(refused.code, 2, `the CA rejected the request: ${refused.stdout} ${refused.stderr}`);

    // Only the self-protecting surfaces are on plain HTTP.
    const api = await curl(`http://127.0.0.1:${gw.httpPort}/api/v1/whoami`);
    assert.equal(api.status, 404);
    const crl = await curl(`http://127.0.0.1:${gw.httpPort}/pki/dev.crl`);
    assert.equal(crl.status, 200);
  });

  describe('bad input', () => {
    let device: Identity;
    before(async () => {
      device = await newDevice('bad-input');
    });
    const failure = async (der: Buffer, failInfo: string, profile = 'mdm') => {
      const rep = readCertRep(await operation(profile, der), ra, device);
      assert.equal(rep.status, 'FAILURE');
      assert.equal(rep.failInfo, failInfo);
      return rep;
    };

    test('garbage and truncated messages: a signed FAILURE badMessageCheck', async () => {
      await failure(Buffer.from('hello, this is not DER'), 'badMessageCheck');
      const good = await enrollMessage(device, STATIC);
      for (const cut of [1, 10, good.der.length >> 1, good.der.length - 1]) await failure(good.der.subarray(0, cut), 'badMessageCheck');
    });

    test('one answer for every decryption failure, and for a message for another recipient', async () => {
      const req = await enrollMessage(device, STATIC, { recipients: [ca] });
      const answers = [await failure(req.der, 'badMessageCheck')];
      for (const offset of [-20, -200]) {
        // Flip a bit in the encrypted content or the encrypted key, then sign again so only decryption can fail.
        const envelope = Buffer.from(parseSignedData((await enrollMessage(device, STATIC)).der).content!);
        envelope[envelope.length + offset]! ^= 0x01;
        answers.push(await failure(await resign(envelope), 'badMessageCheck'));
      }
      assert.ok(
        answers.every((a) => a.recipientNonce && a.transactionId),
        'the answer still reaches the transaction',
      );
    });

    test('a wrong signature, an unknown message type and a wrong challenge', async () => {
      const req = await enrollMessage(device, STATIC);
      const tampered = Buffer.from(req.der);
      tampered[tampered.length - 5]! ^= 0x01; // inside the signature value
      await failure(tampered, 'badMessageCheck');
      await failure((await enrollMessage(device, 'wrong-secret')).der, 'badRequest');
      const rows = await gw.db('certificates').where({ subject: 'CN=bad-input' });
      assert.equal(rows.length, 0, 'nothing was issued');
    });

    test('an oversized message gets a signed FAILURE too; an empty one a clear 400', async () => {
      const big = await post('/scep/mdm?operation=PKIOperation', Buffer.alloc(300 * 1024, 0x30));
      assert.equal(big.status, 200);
      const rep = readCertRep(big.body, ra, device);
      assert.equal(rep.status, 'FAILURE');
      assert.equal(rep.failInfo, 'badMessageCheck');
      // Node refuses request lines over 16 KiB before any route runs.
      const bigGet = await post(`/scep/mdm?operation=PKIOperation&message=${'A'.repeat(64 * 1024)}`, undefined, 'GET');
      assert.equal(bigGet.status, 431);
      const empty = await post('/scep/mdm?operation=PKIOperation', Buffer.alloc(0));
      assert.equal(empty.status, 400);
      const broken = await curl(`${base}/scep/mdm?operation=PKIOperation&message=%%%`, ['--cacert', join(certs, 'root-ca.pem')]);
      assert.ok(broken.status < 500, `GET with a broken message: ${broken.status}`);
    });

    /** A PKCSReq around an envelope as it is: validly signed, whatever the envelope holds. */
    const resign = (envelope: Buffer) =>
      buildSignedData({
        content: envelope,
        signer: rsaSigner(device.key, 'sha256'),
        signerCert: device.cert.raw,
        attributes: [
          ['2.16.840.1.113733.1.9.2', [printable('19')]],
          ['2.16.840.1.113733.1.9.7', [printable(randomBytes(8).toString('hex'))]],
          ['2.16.840.1.113733.1.9.5', [octets(randomBytes(16))]],
        ],
      });
  });

  test('fuzz: 10,000 mutated messages never make the service throw; a sample over HTTP never gets a 5xx', async () => {
    // The service itself, for speed: a throw here is what would be a 500 over HTTP.
    const service: ScepService = gw.scep;
    const profile = service.profile('mdm')!;
    const device = await newDevice('fuzz');
    const seeds = [
      (await enrollMessage(device, STATIC)).der,
      (await enrollMessage(device, STATIC, { cipher: 'des-cbc', digest: 'sha1' })).der,
      (await pkiMessage({ type: 'GetCert', inner: issuerAndSerial(ca), signer: device, recipients: [ra] })).der,
    ];
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const mutate = (input: Buffer): Buffer => {
      const b = Buffer.from(input);
      switch (rand(5)) {
        case 0: // flip bits
          for (let i = 0, n = 1 + rand(8); i < n; i++) b[rand(b.length)]! ^= 1 << rand(8);
          return b;
        case 1: // a length byte gone wrong
          b[rand(Math.min(64, b.length))] = rand(256);
          return b;
        case 2: // truncate
          return b.subarray(0, rand(b.length));
        case 3: // insert bytes
          return Buffer.concat([b.subarray(0, rand(b.length)), Buffer.from([rand(256), rand(256), 0x80, 0x84]), b.subarray(rand(b.length))]);
        default: // splice two seeds
          return Buffer.concat([b.subarray(0, rand(b.length)), seeds[rand(seeds.length)]!.subarray(rand(200))]);
      }
    };
    const statuses = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const der = mutate(seeds[i % seeds.length]!);
      const reply = await service.pkiOperation(profile, der);
      const status = readCertRep(reply, ra, device).status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    assert.ok((statuses.get('FAILURE') ?? 0) > 9_000, JSON.stringify([...statuses]));
    for (let i = 0; i < 300; i++) {
      const r = await post('/scep/mdm?operation=PKIOperation', mutate(seeds[i % seeds.length]!));
      assert.ok(r.status < 500, `HTTP ${r.status}`);
    }
    const health = await curl(`${base}/healthz`, ['--cacert', join(certs, 'root-ca.pem')]);
    assert.ok(health.status < 500);
  });
});

describe('SCEP admission', () => {
  let gw: TestGateway;
  after(async () => {
    await gw?.stop();
  });

  test('past scep.concurrency + scep.maxQueued a PKIOperation gets 503 with Retry-After; the admitted ones are issued', async () => {
    gw = await startTestGateway({ overrides: { scep: { profiles: { default: {}, mdm: { challenge: { static: STATIC } } }, concurrency: 1, maxQueued: 1 } } });
    const certs = join(gw.dir, 'certs');
    const ra = new X509Certificate(readFileSync(join(certs, 'scep-ra.pem')));
    const devices = await Promise.all(Array.from({ length: 8 }, (_, i) => newDevice(`busy-${i}`)));
    const messages = await Promise.all(
      devices.map((d, i) =>
        pkiMessage({ type: 'PKCSReq', inner: deviceCsr(d, [{ type: 'CN', value: `busy-${i}` }], STATIC), signer: d, recipients: [ra] }).then((m) => m.der),
      ),
    );
    const send = (der: Buffer): Promise<{ status: number; retryAfter?: string; body: Buffer }> =>
      new Promise((resolve, reject) => {
        const options = { method: 'POST', ca: readFileSync(join(certs, 'root-ca.pem')), headers: { 'content-type': 'application/x-pki-message' } };
        const req = request(`https://localhost:${gw.port}/scep/mdm?operation=PKIOperation`, options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(der);
      });
    const answers = await Promise.all(messages.map(send));
    const statuses = answers.map((a) => a.status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      JSON.stringify(statuses),
    );
    assert.ok(
      statuses.filter((s) => s === 503).length >= 1 && statuses.filter((s) => s === 200).length >= 2,
      `one running and one waiting, eight at once: ${JSON.stringify(statuses)}`,
    );
    for (const [i, a] of answers.entries()) {
      if (a.status === 503) {
        assert.equal(a.retryAfter, '1');
        assert.equal(JSON.parse(a.body.toString()).error, 'busy');
      } else {
        assert.equal(readCertRep(a.body, ra, devices[i]!).status, 'SUCCESS');
      }
    }
    const retried = answers.findIndex((a) => a.status === 503);
    assert.equal(readCertRep((await send(messages[retried]!)).body, ra, devices[retried]!).status, 'SUCCESS', 'a refused request succeeds when sent again');
  });
});
