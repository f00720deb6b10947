/**
 * A Workspace ONE connector whose policy delivers the person's certificate
 * issued elsewhere as the encryption credential (policy.enrolled.encryption:
 * { unmanaged: encryption }): the Escrow Gateway receives the uploaded
 * certificate and key, re-exported under the connector's PKCS#12 password,
 * beside a signing certificate issued here; someone without an upload gets
 * nothing issued, and the job says what to upload.
 */
import assert from 'node:assert/strict';
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { issueOtherPkcs12, makeOtherCa } from '../helpers/other-ca.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, startEscrowGateway, writeTestTlsFiles, type EscrowGatewayHandle } from '../helpers/ws1-standins.js';

const EVENTS_PASSWORD = 'console-events-pw-2024';
const P12_PASSWORD = 'eg-profile-password';
const UPLOAD_PASSWORD = 'Upload-Pfx-Secret-4711';
const NO_CERTIFICATES = "None of the selected user's certificates are configured to be allowed to be put on a mobile phone.";

describe('Workspace ONE delivers a certificate issued elsewhere', () => {
  let gw: TestGateway;
  let eg: EscrowGatewayHandle;
  let dir: string;
  let base: string;

  const api = (method: string, path: string, body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(join(dir, 'certs')),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const enroll = (email: string) => {
    const event = {
      EventId: 148,
      EventType: 'MDM Enrollment Complete',
      DeviceId: 15,
      EnrollmentEmailAddress: email,
      EnrollmentUserName: email.split('@')[0],
      EventTime: new Date().toISOString(),
      EnrollmentStatus: 'Enrolled',
      EnrollmentUserId: 12,
      Platform: 'Apple',
      DeviceUUID: randomUUID(),
      EnrollmentUserUUID: randomUUID(),
    };
    return curl(`${base}/connectors/ws1x/events`, [
      '--cacert',
      join(dir, 'certs/root-ca.pem'),
      '-u',
      `ws1-events:${EVENTS_PASSWORD}`,
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify(event),
    ]).then((r) => ({ r, deviceUuid: event.DeviceUUID }));
  };

  before(async () => {
    dir = tempDir();
    const tls = await makeTestTls();
    const files = writeTestTlsFiles(tls, dir);
    eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1x',
      ws1Settings({
        eventsPassword: EVENTS_PASSWORD,
        enrolled: { signing: 'smime-signing', encryption: { unmanaged: 'encryption' } },
        pkcs12: { format: 'modern', password: P12_PASSWORD },
        escrowGateway: { ...escrowGatewayOf(eg.url, tls, files), timeout: '2s' },
      }),
    );
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '400ms' } } },
    });
    base = `https://localhost:${gw.port}`;
    for (const u of ['jane', 'zed']) {
      const r = await api('POST', '/users', { userName: u, displayName: u.toUpperCase(), email: `${u}@example.com` });
      assert.equal(r.status, 201, r.body);
    }
    // Jane's encryption certificate from another bank's CA, as openssl makes one.
    const f = (n: string) => join(dir, n);
    writeFileSync(
      f('ext.cnf'),
      '[enc]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyEncipherment\nextendedKeyUsage = emailProtection\nsubjectAltName = email:jane@example.com\n',
    );
    const otherCa = makeOtherCa(dir, { subject: '/CN=Other Bank CA', days: 30, keyUsage: 'keyCertSign' });
    issueOtherPkcs12(otherCa, {
      name: 'jane',
      subject: '/CN=Jane/emailAddress=jane@example.com',
      days: 365,
      extfile: f('ext.cnf'),
      extensions: 'enc',
      password: UPLOAD_PASSWORD,
    });
    const up = await api('POST', '/users/jane/certificates', {
      pkcs12: readFileSync(f('jane.p12')).toString('base64'),
      password: UPLOAD_PASSWORD,
      purpose: 'encryption',
    });
    assert.equal(up.status, 201, up.body);
  });
  after(async () => {
    await gw?.stop();
    await eg?.stop();
  });

  test("the Escrow Gateway receives jane's uploaded certificate and key as her encryption credential, and a signing certificate issued here", async () => {
    const { r, deviceUuid } = await enroll('jane@example.com');
    assert.equal(r.status, 202, r.body);
    const upload = await until('the upload', () => eg.uploads.find((u) => u.deviceUuid === deviceUuid), 8000);
    assert.equal(upload.encryption.length, 1);
    assert.equal(upload.signing.length, 1);
    const p12 = join(dir, 'delivered-enc.p12');
    writeFileSync(p12, upload.encryption[0]!);
    const pem = openssl(['pkcs12', '-in', p12, '-passin', `pass:${P12_PASSWORD}`, '-nodes']);
    const cert = new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
    assert.equal(cert.fingerprint256, new X509Certificate(readFileSync(join(dir, 'jane.pem'))).fingerprint256, 'the very certificate uploaded');
    const keyOf = (text: string) => openssl(['pkey', '-pubout'], text);
    assert.equal(keyOf(pem.slice(pem.indexOf('-----BEGIN PRIVATE KEY-----'))), keyOf(readFileSync(join(dir, 'jane-key.pem'), 'utf8')), 'and its key');
    const signing = join(dir, 'delivered-sign.p12');
    writeFileSync(signing, upload.signing[0]!);
    const signingPem = openssl(['pkcs12', '-in', signing, '-passin', `pass:${P12_PASSWORD}`, '-nokeys', '-clcerts']);
    assert.match(new X509Certificate(signingPem.slice(signingPem.indexOf('-----BEGIN CERTIFICATE-----'))).issuer, /credgate/i, 'signing is issued here');
    const delivered = await gw.db('audit').where({ action: 'key.deliver' }).select('subject_id');
    assert.ok(
      delivered.some((a: { subject_id: string }) => a.subject_id.toLowerCase() === cert.serialNumber.toLowerCase()),
      'the key leaving is audited',
    );
  });

  test('someone without an upload gets nothing issued; the job says what to upload', async () => {
    const before = (await gw.db('certificates').count({ n: '*' }))[0] as { n: number };
    const { r, deviceUuid } = await enroll('zed@example.com');
    assert.equal(r.status, 202, r.body);
    const dead = await until(
      'the refused job',
      async () =>
        ((await gw.db('jobs').where({ status: 'dead' }).select('last_error')) as { last_error: string }[]).find((j) =>
          j.last_error.includes('zed@example.com'),
        ),
      8000,
    );
    assert.ok(dead.last_error.includes(NO_CERTIFICATES), dead.last_error);
    assert.match(dead.last_error, /has no valid uploaded encryption certificate; an administrator uploads one/);
    assert.equal(
      eg.uploads.find((u) => u.deviceUuid === deviceUuid),
      undefined,
      'nothing delivered',
    );
    const afterCount = (await gw.db('certificates').count({ n: '*' }))[0] as { n: number };
    assert.equal(Number(afterCount.n), Number(before.n), 'no signing certificate left behind');
  });
});
