/**
 * iOS OTA delivers a certificate issued elsewhere like one of ours: a
 * credential profile with an `unmanaged` system-store entry puts the
 * person's upload (made by `openssl pkcs12 -export` from another CA here)
 * into the encrypted final profile, and `openssl pkcs12` opens the same
 * certificate and key from it. An enrollment for someone without an upload
 * is refused before any link exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PlistValue } from 'plist';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { decryptWith, makeDeviceCa, readXmlPlist, signDeviceMessage, verifyProfile, xmlPlist, type Identity } from '../helpers/iphone.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { issueOtherPkcs12, makeOtherCa } from '../helpers/other-ca.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

type Dict = Record<string, PlistValue>;
const UDID = '00008030-0002A4C61E3A802E';

describe('iOS OTA with a certificate issued elsewhere', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let rootPem: string;
  let device: Identity;

  const admin = (path: string, body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(join(dir, 'certs')),
      ...(body === undefined ? [] : ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const fetchBytes = async (url: string, body?: Buffer) => {
    const out = join(dir, 'response.bin');
    writeFileSync(out, '');
    const args = ['--cacert', rootPem, '-o', out];
    if (body) {
      writeFileSync(join(dir, 'request.bin'), body);
      args.push('-X', 'POST', '-H', 'Content-Type: application/pkcs7-signature', '--data-binary', `@${join(dir, 'request.bin')}`);
    }
    const r = await curl(url, args);
    return { status: r.status, body: readFileSync(out) };
  };
  const attributes = (challenge: string) =>
    xmlPlist({ UDID, SERIAL: 'G6TZ9876WXYZ', PRODUCT: 'iPhone15,2', VERSION: '21E236', DEVICE_NAME: 'Jo’s iPhone', CHALLENGE: challenge });
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
    device = trusted.device;
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        ota: { deviceCa: [trusted.ca] },
        credentialProfiles: {
          outside: { certificates: [{ template: 'smime-signing' }, { unmanaged: 'encryption', container: 'system-store' }] },
        },
      },
    });
    rootPem = join(dir, 'certs/root-ca.pem');

    const f = (n: string) => join(dir, n);
    const otherCa = makeOtherCa(dir, { subject: '/O=Other Bank/CN=Other Bank CA', days: 30 });
    writeFileSync(f('enc.ext'), 'keyUsage=critical,keyEncipherment\nextendedKeyUsage=emailProtection\n');
    issueOtherPkcs12(otherCa, { name: 'jo', subject: '/O=Other Bank/CN=Jo Bloggs', days: 20, extfile: f('enc.ext'), password: 'jo-pfx-password' });
    const people = await admin('/users/import', [
      { userName: 'jo', displayName: 'Jo Bloggs', email: 'jo@example.com' },
      { userName: 'max', displayName: 'Max Mustermann', email: 'max@example.com' },
    ]);
    assert.equal(people.status, 200, people.body);
    const uploaded = await admin('/users/jo/certificates', {
      pkcs12: readFileSync(f('jo.p12')).toString('base64'),
      password: 'jo-pfx-password',
      purpose: 'encryption',
    });
    assert.equal(uploaded.status, 201, uploaded.body);
  });
  after(async () => {
    await gw?.stop();
  });

  test('someone without the upload: refused at creation; with it: the final profile carries it and openssl opens the same certificate and key', async () => {
    const refused = await admin('/ota/enrollments', { credentialProfile: 'outside', user: { displayName: 'Max Mustermann', email: 'max@example.com' } });
    assert.equal(refused.status, 400, refused.body);
    assert.match(refused.body, /None of the selected user's certificates are configured to be allowed to be put on a mobile phone\./);

    const created = await admin('/ota/enrollments', { credentialProfile: 'outside', user: { displayName: 'Jo Bloggs', email: 'jo@example.com' } });
    assert.equal(created.status, 201, created.body);
    const e = created.json() as { id: string; code: string };

    const p1 = await fetchBytes(`${base}/ota/enroll?code=${e.code}`);
    assert.equal(p1.status, 200, p1.body.toString());
    const content = profileOf(p1.body).PayloadContent as Dict;
    const challenge = content.Challenge as string;
    const p2 = await fetchBytes(content.URL as string, signDeviceMessage(dir, attributes(challenge), device));
    assert.equal(p2.status, 200, p2.body.toString());
    const scep = ((profileOf(p2.body).PayloadContent as Dict[])[0]!.PayloadContent ?? {}) as Dict;
    const scepId = { cert: join(dir, 'scep.pem'), key: join(dir, 'scep-key.pem') };
    const enrolled = await scepclient([
      '-server-url',
      scep.URL as string,
      '-challenge',
      scep.Challenge as string,
      '-cn',
      UDID,
      '-organization',
      'credgate',
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

    const p3 = await fetchBytes(content.URL as string, signDeviceMessage(dir, attributes(challenge), scepId, { md: 'sha256' }));
    assert.equal(p3.status, 200, p3.body.toString());
    const final = profileOf(p3.body);
    const payloads = readXmlPlist(decryptWith(dir, Buffer.from(final.EncryptedPayloadContent as Uint8Array), scepId)) as unknown as Dict[];
    const p12s = payloads.filter((p) => p.PayloadType === 'com.apple.security.pkcs12');
    assert.deepEqual(p12s.map((p) => p.PayloadCertificateFileName).sort(), ['smime-signing.p12', 'unmanaged-encryption.p12']);
    const upload = p12s.find((p) => p.PayloadCertificateFileName === 'unmanaged-encryption.p12')!;
    assert.equal(upload.PayloadIdentifier, 'com.credgate.ota.outside.unmanaged-encryption');
    const file = join(dir, 'delivered.p12');
    writeFileSync(file, Buffer.from(upload.PayloadContent as Uint8Array));
    const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${upload.Password as string}`, '-nodes', '-info']);
    assert.match(pem, /pbeWithSHA1And3-KeyTripleDES-CBC/, 'the format iOS imports');
    const fingerprint = (text: string) => openssl(['x509', '-noout', '-fingerprint', '-sha256'], text).trim();
    const leaf = pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'));
    assert.equal(fingerprint(leaf), fingerprint(readFileSync(join(dir, 'jo.pem'), 'utf8')), 'the uploaded certificate');
    assert.equal(openssl(['pkey'], pem), openssl(['pkey', '-in', join(dir, 'jo-key.pem')]), 'its key');
    const roots = payloads
      .filter((p) => p.PayloadType === 'com.apple.security.root')
      .map((p) => fingerprint(openssl(['x509', '-inform', 'DER'], Buffer.from(p.PayloadContent as Uint8Array))));
    assert.ok(roots.includes(fingerprint(readFileSync(join(dir, 'other-ca.pem'), 'utf8'))), 'the other CA, which came in the upload, goes as a root too');

    const done = (await admin(`/ota/enrollments/${e.id}`)).json().enrollment as { status: string; issuedSerials: string[] };
    assert.equal(done.status, 'completed');
    assert.equal(done.issuedSerials.length, 1, 'only the certificate issued here counts as issued');
  });
});
