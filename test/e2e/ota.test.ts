/**
 * iOS over-the-air enrollment with the test acting as an iPhone: curl as
 * Safari and the operator, `openssl cms` as the device's CMS, micromdm's
 * scepclient for the SCEP step, and `openssl pkcs12` to open what arrives.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PlistValue } from 'plist';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { decryptWith, makeDeviceCa, readXmlPlist, signDeviceMessage, verifyProfile, xmlPlist, type Identity } from '../helpers/iphone.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

type Dict = Record<string, PlistValue>;
const UDID = '00008030-001A2D3E0C38802E';
const OTHER_UDID = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

describe('iOS OTA enrollment, as an iPhone', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let rootPem: string;
  let device: Identity;
  let strangerDevice: Identity;

  const admin = (path: string, body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(join(dir, 'certs')),
      ...(body === undefined ? [] : ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const enroll = async (user: Dict = { id: 'u-1001', displayName: 'Jane Smith', email: 'jane@example.com' }) => {
    const r = await admin('/ota/enrollments', { credentialProfile: 'smime', user });
    assert.equal(r.status, 201, r.body);
    return r.json() as { id: string; url: string; code: string; expiresAt: string };
  };
  /** GET or POST as Safari / the device; the body comes back as bytes. */
  const fetchBytes = async (url: string, body?: Buffer) => {
    const out = join(dir, 'response.bin');
    const headers = join(dir, 'response.headers');
    writeFileSync(out, '');
    const args = ['--cacert', rootPem, '-o', out, '-D', headers];
    if (body) {
      writeFileSync(join(dir, 'request.bin'), body);
      args.push('-X', 'POST', '-H', 'Content-Type: application/pkcs7-signature', '--data-binary', `@${join(dir, 'request.bin')}`);
    }
    const r = await curl(url, args);
    const type = /^content-type:\s*([^;\r\n]+)/im.exec(readFileSync(headers, 'utf8'))?.[1];
    return { status: r.status, body: readFileSync(out), type };
  };
  const attributes = (challenge: string, udid = UDID): string =>
    xmlPlist({
      UDID: udid,
      SERIAL: 'F2LX1234ABCD',
      PRODUCT: 'iPhone12,1',
      VERSION: '21E236',
      IMEI: '35 678901 234567 8',
      DEVICE_NAME: 'Jane’s iPhone',
      CHALLENGE: challenge,
    });
  const profileOf = (der: Buffer): Dict => readXmlPlist(verifyProfile(dir, der, rootPem));
  const scepclient = (args: string[]): Promise<{ code: number; output: string }> =>
    new Promise((resolve) => {
      execFile('scepclient', args, { env: { ...process.env, SSL_CERT_FILE: rootPem }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    const trusted = await makeDeviceCa(join(dir, 'apple'), 'Test iPhone Device CA');
    const stranger = await makeDeviceCa(join(dir, 'stranger'), 'Stranger Device CA');
    device = trusted.device;
    strangerDevice = stranger.device;
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        ota: {
          deviceCa: [trusted.ca],
          organization: 'Example Bank',
          displayName: 'Example Bank certificates',
          description: "Your <S/MIME> certificates & the bank's root",
        },
      },
    });
    rootPem = join(dir, 'certs/root-ca.pem');
  });
  after(async () => {
    await gw.stop();
  });

  let completed: { id: string; code: string; scep: Identity };

  test('all three phases: page, Profile Service, SCEP payload, scepclient, encrypted final profile with PKCS#12 the device opens', async () => {
    const e = await enroll();
    assert.equal(e.url, `${base}/ota?code=${e.code}`);
    assert.ok(!gw.logs().includes(e.code), 'the code is never logged');

    // The intermediate page: texts from config, escaped; the root link and the Enroll button.
    const page = await fetchBytes(e.url);
    assert.equal(page.status, 200);
    assert.equal(page.type, 'text/html');
    const html = page.body.toString();
    assert.match(html, /Example Bank certificates/);
    assert.match(html, /Your &lt;S\/MIME&gt; certificates &amp; the bank&#39;s root/);
    assert.ok(!html.includes('<S/MIME>'));
    assert.match(html, new RegExp(`href="${base}/pki/ca.cer"`));
    assert.ok(html.includes(`href="${base}/ota/enroll?code=${e.code}"`), 'the Enroll button');
    const root = await fetchBytes(`${base}/pki/ca.cer`);
    assert.equal(root.type, 'application/x-x509-ca-cert');
    assert.ok(new X509Certificate(root.body).raw.equals(new X509Certificate(readFileSync(rootPem)).raw), 'the dev root CA');

    // Phase 1: the signed Profile Service payload.
    const p1 = await fetchBytes(`${base}/ota/enroll?code=${e.code}`);
    assert.equal(p1.status, 200, p1.body.toString());
    assert.equal(p1.type, 'application/x-apple-aspen-config');
    const service = profileOf(p1.body);
    assert.deepEqual(Object.keys(service).sort(), [
      'PayloadContent',
      'PayloadDescription',
      'PayloadDisplayName',
      'PayloadIdentifier',
      'PayloadOrganization',
      'PayloadType',
      'PayloadUUID',
      'PayloadVersion',
    ]);
    assert.equal(service.PayloadType, 'Profile Service');
    assert.equal(service.PayloadVersion, 1);
    assert.equal(service.PayloadOrganization, 'Example Bank');
    assert.equal(service.PayloadDisplayName, 'Example Bank certificates');
    const content = service.PayloadContent as Dict;
    assert.deepEqual(Object.keys(content).sort(), ['Challenge', 'DeviceAttributes', 'URL']);
    assert.equal(content.URL, `${base}/ota/profile/${e.id}`);
    assert.deepEqual(content.DeviceAttributes, ['UDID', 'IMEI', 'ICCID', 'VERSION', 'PRODUCT', 'SERIAL', 'MAC_ADDRESS_EN0', 'DEVICE_NAME']);
    const challenge = content.Challenge as string;
    assert.ok(challenge.length >= 32 && challenge !== e.code, 'a per-enrollment secret, not the user code');
    // Fetching it again (Safari retries) gives the same challenge.
    assert.equal((profileOf((await fetchBytes(`${base}/ota/enroll?code=${e.code}`)).body).PayloadContent as Dict).Challenge, challenge);

    // Phase 2: attributes signed by the device's (expired) built-in identity, streamed as BER.
    const p2 = await fetchBytes(content.URL as string, signDeviceMessage(dir, attributes(challenge), device, { stream: true }));
    assert.equal(p2.status, 200, p2.body.toString());
    assert.equal(p2.type, 'application/x-apple-aspen-config');
    const scepProfile = profileOf(p2.body);
    assert.equal(scepProfile.PayloadType, 'Configuration');
    const [scepPayload, ...others] = scepProfile.PayloadContent as Dict[];
    assert.equal(others.length, 0);
    assert.equal(scepPayload!.PayloadType, 'com.apple.security.scep');
    const scep = scepPayload!.PayloadContent as Dict;
    assert.deepEqual(Object.keys(scep).sort(), [
      'CAFingerprint',
      'Challenge',
      'Key Type',
      'Key Usage',
      'Keysize',
      'Name',
      'Retries',
      'RetryDelay',
      'Subject',
      'URL',
    ]);
    assert.equal(scep.URL, `${base}/scep`);
    assert.equal(scep.Keysize, 2048);
    assert.equal(scep['Key Type'], 'RSA');
    assert.equal(scep['Key Usage'], 5);
    assert.deepEqual(scep.Subject, [[['O', 'Example Bank']], [['CN', UDID]]]);
    const issuingCa = new X509Certificate(readFileSync(join(dir, 'certs/issuing-ca.pem')));
    assert.deepEqual(Buffer.from(scep.CAFingerprint as Uint8Array), createHash('sha1').update(issuingCa.raw).digest());
    assert.match(readFileSync(join(dir, 'response.bin')).toString('latin1'), /<key>Key Type<\/key>\s*<string>RSA<\/string>/);
    assert.ok(!gw.logs().includes(scep.Challenge as string) && !gw.logs().includes(challenge), 'challenges are never logged');
    const bound = (await admin(`/ota/enrollments/${e.id}`)).json().enrollment as {
      status: string;
      device: { udid: string; serialNumber: string; product: string };
    };
    assert.equal(bound.status, 'device-bound');
    assert.equal(bound.device.udid, UDID);
    assert.equal(bound.device.serialNumber, 'F2LX1234ABCD');

    // The SCEP step, as the device does it with the payload's Subject (and nothing else: no scepclient default OU or C) and Challenge.
    const scepId = { cert: join(dir, 'scep.pem'), key: join(dir, 'scep-key.pem') };
    const enrolled = await scepclient([
      '-server-url',
      scep.URL as string,
      '-challenge',
      scep.Challenge as string,
      '-cn',
      UDID,
      '-organization',
      'Example Bank',
      '-ou',
      '',
      '-country',
      '',
      '-private-key',
      scepId.key,
      '-certificate',
      scepId.cert,
    ]);
    assert.equal(enrolled.code, 0, enrolled.output);
    assert.match(new X509Certificate(readFileSync(scepId.cert)).subject, new RegExp(`CN=${UDID}`));

    // Phase 3: signed by the SCEP identity; the answer is encrypted to it.
    const p3 = await fetchBytes(content.URL as string, signDeviceMessage(dir, attributes(challenge), scepId, { md: 'sha256' }));
    assert.equal(p3.status, 200, p3.body.toString());
    const final = profileOf(p3.body);
    assert.equal(final.PayloadType, 'Configuration');
    assert.equal(final.IsEncrypted, true);
    assert.ok(!('PayloadContent' in final), 'no clear PayloadContent');
    assert.equal(final.PayloadIdentifier, 'com.credgate.ota.smime');
    const payloads = readXmlPlist(decryptWith(dir, Buffer.from(final.EncryptedPayloadContent as Uint8Array), scepId)) as unknown as Dict[];
    const p12s = payloads.filter((p) => p.PayloadType === 'com.apple.security.pkcs12');
    const roots = payloads.filter((p) => p.PayloadType === 'com.apple.security.root');
    assert.equal(p12s.length, 2, 'smime-signing and smime-encryption');
    assert.equal(roots.length, 1);
    assert.ok(Buffer.from(roots[0]!.PayloadContent as Uint8Array).equals(new X509Certificate(readFileSync(rootPem)).raw));
    const serials: string[] = [];
    for (const p of p12s) {
      assert.match(p.PayloadCertificateFileName as string, /^smime-(signing|encryption)\.p12$/);
      const file = join(dir, p.PayloadCertificateFileName as string);
      writeFileSync(file, Buffer.from(p.PayloadContent as Uint8Array));
      const out = openssl(['pkcs12', '-in', file, '-passin', `pass:${p.Password as string}`, '-nodes', '-info']);
      assert.match(out, /pbeWithSHA1And3-KeyTripleDES-CBC/, 'the apple PKCS#12 format');
      assert.match(out, /subject=.*CN ?= ?Jane Smith/);
      assert.match(out, /-----BEGIN PRIVATE KEY-----/);
      const cert = new X509Certificate(out.slice(out.indexOf('-----BEGIN CERTIFICATE-----')));
      serials.push(cert.serialNumber.toLowerCase());
      assert.ok(!gw.logs().includes(p.Password as string), 'PKCS#12 passwords are never logged');
    }
    for (const serial of serials) {
      const row = await gw.db('certificates').where({ serial }).first();
      assert.equal(row?.user_id, 'u-1001');
      assert.equal(row?.device_id, UDID);
    }
    const done = (await admin(`/ota/enrollments/${e.id}`)).json().enrollment as { status: string; issuedSerials: string[]; deviceCertSerial: string };
    assert.equal(done.status, 'completed');
    assert.deepEqual([...done.issuedSerials].sort(), [...serials].sort());
    assert.equal(done.deviceCertSerial, new X509Certificate(readFileSync(scepId.cert)).serialNumber.toLowerCase());
    const audit = (await admin(`/audit?subjectId=${e.id}`)).json().entries as { action: string }[];
    assert.deepEqual(audit.map((a) => a.action).sort(), ['ota.enrollment.bind', 'ota.enrollment.complete', 'ota.enrollment.create']);
    completed = { id: e.id, code: e.code, scep: scepId };
  });

  test('a used code, a completed enrollment and an unknown code are refused', async () => {
    assert.equal((await fetchBytes(`${base}/ota?code=${completed.code}`)).status, 410);
    assert.equal((await fetchBytes(`${base}/ota/enroll?code=${completed.code}`)).status, 410);
    const again = await fetchBytes(`${base}/ota/profile/${completed.id}`, signDeviceMessage(dir, attributes('x'), completed.scep));
    assert.equal(again.status, 410);
    const unknown = await fetchBytes(`${base}/ota?code=not-a-code`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.toString(), /unknown enrollment code/);
    assert.equal((await fetchBytes(`${base}/ota/enroll?code=not-a-code`)).status, 404);
    const form = await fetchBytes(`${base}/ota`);
    assert.equal(form.status, 200);
    assert.match(form.body.toString(), /<input name="code"/);
  });

  const phase1 = async () => {
    const e = await enroll();
    const service = profileOf((await fetchBytes(`${base}/ota/enroll?code=${e.code}`)).body);
    return { ...e, challenge: (service.PayloadContent as Dict).Challenge as string, url: (service.PayloadContent as Dict).URL as string };
  };
  const statusOf = async (id: string) => ((await admin(`/ota/enrollments/${id}`)).json().enrollment as { status: string }).status;

  test('phase 2 refuses a wrong challenge, an untrusted device CA, malformed CMS and plists, and oversized bodies; nothing changes', async () => {
    const e = await phase1();
    const refused = async (body: Buffer, status: number, message: RegExp) => {
      const r = await fetchBytes(e.url, body);
      assert.equal(r.status, status, r.body.toString());
      assert.match(r.body.toString(), message);
    };
    await refused(signDeviceMessage(dir, attributes('wrong-challenge'), device), 403, /challenge/i);
    await refused(signDeviceMessage(dir, attributes(e.challenge), strangerDevice), 403, /trusted device CA/);
    await refused(Buffer.from('garbage, not CMS'), 400, /not a CMS signed message/);
    await refused(signDeviceMessage(dir, attributes(e.challenge), device).subarray(0, 400), 400, /CMS/);
    await refused(signDeviceMessage(dir, '<plist><dict><key>UDID</key><string>x</dict></plist>', device), 400, /well-formed/);
    await refused(signDeviceMessage(dir, '{UDID = x;}', device), 400, /XML property list/);
    await refused(signDeviceMessage(dir, xmlPlist({ UDID: 'not-a-udid', CHALLENGE: e.challenge }), device), 400, /UDID/);
    const big = await fetchBytes(e.url, Buffer.alloc(200 * 1024, 0x30));
    assert.equal(big.status, 413);
    assert.equal(
      (await fetchBytes(`${base}/ota/profile/00000000-0000-4000-8000-000000000000`, signDeviceMessage(dir, attributes(e.challenge), device))).status,
      404,
    );
    assert.equal(await statusOf(e.id), 'pending');
    // The real thing still works afterwards, plain DER this time.
    assert.equal((await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), device))).status, 200);
    assert.equal(await statusOf(e.id), 'device-bound');
    // Another device cannot take the enrollment over.
    const other = await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge, OTHER_UDID), device));
    assert.equal(other.status, 409);
  });

  test('a device whose attempt failed starts again from its link: a new SCEP challenge, the old one refused, another device still 409; 410 once completed', async () => {
    const e = await phase1();
    const scepPayload = async () => {
      const p2 = await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), device));
      assert.equal(p2.status, 200, p2.body.toString());
      return (profileOf(p2.body).PayloadContent as Dict[])[0]!.PayloadContent as Dict;
    };
    const first = await scepPayload();
    assert.equal(await statusOf(e.id), 'device-bound');

    // The SCEP step did not finish; the user opens the link again in Safari.
    const page = await fetchBytes(`${base}/ota?code=${e.code}`);
    assert.equal(page.status, 200, page.body.toString());
    const again = await fetchBytes(`${base}/ota/enroll?code=${e.code}`);
    assert.equal(again.status, 200, again.body.toString());
    assert.equal((profileOf(again.body).PayloadContent as Dict).Challenge, e.challenge);
    const second = await scepPayload();
    assert.notEqual(second.Challenge, first.Challenge, 'a new SCEP challenge');
    assert.deepEqual(second.Subject, first.Subject);
    // Another device (whatever Apple identity signs for it) cannot take the enrollment over.
    assert.equal((await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge, OTHER_UDID), device))).status, 409);

    const scepEnroll = async (challenge: string, name: string) => {
      const home = join(dir, name);
      mkdirSync(home);
      const id = { cert: join(home, 'cert.pem'), key: join(home, 'key.pem') };
      const run = await scepclient([
        '-server-url',
        second.URL as string,
        '-challenge',
        challenge,
        '-cn',
        UDID,
        '-organization',
        'Example Bank',
        '-ou',
        '',
        '-country',
        '',
        '-private-key',
        id.key,
        '-certificate',
        id.cert,
      ]);
      return { id, ...run };
    };
    const stale = await scepEnroll(first.Challenge as string, 'retry-first-challenge');
    assert.notEqual(stale.code, 0, 'the first challenge was retired');
    assert.match(stale.output, /failInfo: badRequest/);
    const fresh = await scepEnroll(second.Challenge as string, 'retry-second-challenge');
    assert.equal(fresh.code, 0, fresh.output);
    assert.equal((await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), fresh.id, { md: 'sha256' }))).status, 200);
    assert.equal(await statusOf(e.id), 'completed');

    assert.equal((await fetchBytes(`${base}/ota?code=${e.code}`)).status, 410);
    assert.equal((await fetchBytes(`${base}/ota/enroll?code=${e.code}`)).status, 410);
    assert.equal((await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), device))).status, 410);
    const audit = (await admin(`/audit?subjectId=${e.id}`)).json().entries as { action: string; detail: { again?: boolean } }[];
    assert.deepEqual(
      audit
        .filter((a) => a.action === 'ota.enrollment.bind')
        .map((a) => a.detail.again ?? false)
        .sort(),
      [false, true],
    );
    const refused = await gw
      .db('scep_transactions')
      .where({ status: 'rejected', subject: `O=Example Bank, CN=${UDID}` })
      .select('reason');
    assert.deepEqual(
      refused.map((r: { reason: string }) => r.reason),
      ['unknown, expired or already used challenge password'],
    );
  });

  test('the SCEP challenge of phase 2 certifies exactly the subject the payload gives: any other name is refused', async () => {
    const scepPayloadFor = async (udid: string): Promise<Dict> => {
      const e = await enroll();
      const service = profileOf((await fetchBytes(`${base}/ota/enroll?code=${e.code}`)).body).PayloadContent as Dict;
      const p2 = await fetchBytes(service.URL as string, signDeviceMessage(dir, attributes(service.Challenge as string, udid), device));
      assert.equal(p2.status, 200, p2.body.toString());
      return (profileOf(p2.body).PayloadContent as Dict[])[0]!.PayloadContent as Dict;
    };
    const before = Number((await gw.db('certificates').count({ n: '*' }).first())?.n);
    const tries: [string, string[]][] = [
      ["scepclient's default OU and C", []],
      ['a second OU', ['-ou', 'Domain Admins', '-country', '']],
      ['another CN', ['-cn', 'domain.admin', '-ou', '', '-country', '']],
    ];
    for (const [what, extra] of tries) {
      const udid = `${what.length.toString(16).padStart(8, '0')}-0000000000000001`;
      const scep = await scepPayloadFor(udid);
      // scepclient keeps csr.pem and self.pem beside the key and reuses them: each device gets its own directory.
      const home = join(dir, `ota-extra-${what.length}`);
      mkdirSync(home);
      const id = { cert: join(home, 'cert.pem'), key: join(home, 'key.pem') };
      const run = await scepclient([
        '-server-url',
        scep.URL as string,
        '-challenge',
        scep.Challenge as string,
        '-cn',
        udid,
        '-organization',
        'Example Bank',
        ...extra,
        '-private-key',
        id.key,
        '-certificate',
        id.cert,
      ]);
      assert.notEqual(run.code, 0, `${what} was issued`);
      assert.match(run.output, /failInfo: badRequest/, what);
    }
    assert.equal(Number((await gw.db('certificates').count({ n: '*' }).first())?.n), before);
    const audit = await gw.db('audit').where({ action: 'scep.refuse' }).select('reason');
    assert.ok(
      audit.some((r: { reason: string }) => /the challenge names the whole subject; the request adds OU/.test(r.reason)),
      JSON.stringify(audit),
    );
    assert.ok(
      audit.some((r: { reason: string }) => /exactly that CN and no other/.test(r.reason)),
      JSON.stringify(audit),
    );
  });

  test('phase 3 refuses a certificate of ours that belongs to another device', async () => {
    const e = await phase1();
    assert.equal((await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), device))).status, 200);
    // A valid certificate of ours, in the inventory, but for another device's UDID.
    const issued = await admin('/certificates', { template: 'device-identity', device: { serialNumber: OTHER_UDID } });
    assert.equal(issued.status, 201, issued.body);
    const p12 = join(dir, 'other.p12');
    writeFileSync(p12, Buffer.from(issued.json().pkcs12 as string, 'base64'));
    const pem = openssl(['pkcs12', '-in', p12, '-passin', `pass:${issued.json().pkcs12Password as string}`, '-nodes']);
    const otherDevice = { cert: join(dir, 'other.pem'), key: join(dir, 'other-key.pem') };
    writeFileSync(otherDevice.cert, pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'), pem.indexOf('-----END CERTIFICATE-----') + 26));
    writeFileSync(otherDevice.key, pem.slice(pem.indexOf('-----BEGIN PRIVATE KEY-----'), pem.indexOf('-----END PRIVATE KEY-----') + 26));
    const r = await fetchBytes(e.url, signDeviceMessage(dir, attributes(e.challenge), otherDevice));
    assert.equal(r.status, 403, r.body.toString());
    assert.match(r.body.toString(), /another device/);
    assert.equal(await statusOf(e.id), 'device-bound');
  });

  test('the admin API checks what it is given', async () => {
    const post = (body: unknown) => admin('/ota/enrollments', body);
    assert.equal((await post({ credentialProfile: 'nope', user: { displayName: 'A', email: 'a@example.com' } })).status, 400);
    const missing = await post({ credentialProfile: 'smime', user: { displayName: 'No Mail' } });
    assert.equal(missing.status, 400);
    assert.match(missing.body, /user\.email/);
    assert.equal((await post({ credentialProfile: 'smime', user: { displayName: 'A', email: 'a@example.com' }, expiresIn: '90d' })).status, 400);
    assert.equal((await post({ credentialProfile: 'smime', user: { 'bad key': 'x' } })).status, 400);
    const anonymous = await curl(`${base}/api/v1/ota/enrollments`, [
      '--cacert',
      rootPem,
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      '{}',
    ]);
    assert.equal(anonymous.status, 401);
  });
});

describe('iOS OTA without a device CA, and switched off', () => {
  test('without ota.deviceCa: a warning at start and no enrollments; with enabled: false there is no /ota', async () => {
    const gw = await startTestGateway();
    try {
      assert.match(gw.logs(), /ota\.deviceCa is not set/);
      const base = `https://localhost:${gw.port}`;
      const r = await curl(`${base}/api/v1/ota/enrollments`, [
        ...adminCurlArgs(join(gw.dir, 'certs')),
        '-X',
        'POST',
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        JSON.stringify({ credentialProfile: 'smime', user: { displayName: 'A', email: 'a@example.com' } }),
      ]);
      assert.equal(r.status, 409);
      assert.match(r.json().message as string, /ota\.deviceCa/);
    } finally {
      await gw.stop();
    }
    const off = await startTestGateway({ overrides: { ota: { enabled: false } } });
    try {
      const r = await curl(`https://localhost:${off.port}/ota`, ['--cacert', join(off.dir, 'certs/root-ca.pem')]);
      assert.equal(r.status, 404);
      assert.equal(off.ota, undefined);
    } finally {
      await off.stop();
    }
  });
});
