/**
 * The Workspace ONE connector end to end: events posted with curl as the
 * console would, credentials uploaded to an Escrow Gateway stand-in over
 * mTLS, users resolved through a UEM API stand-in, and every upload opened
 * with OpenSSL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { allowTestClient, escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';
import {
  issueTestClient,
  makeTestTls,
  startEscrowGateway,
  startUemApi,
  writeTestTlsFiles,
  type EscrowGatewayHandle,
  type UemApiHandle,
} from '../helpers/ws1-standins.js';
import { until } from '../helpers/wait.js';

const EVENTS_PASSWORD = 'console-events-pw-2024';
const P12_PASSWORD = 'eg-profile-password';
/**
 * The example enrollment event of Workspace ONE UEM's Credential Escrow
 * Gateway guide ("Uploading Certificates for Credential Escrow Gateway"),
 * without an email address, so the connector must look it up.
 */
const SAMPLE_EVENT = {
  EventId: 148,
  EventType: 'MDM Enrollment Complete',
  DeviceId: 15,
  DeviceFriendlyName: 'zenny iPod Touch Apple 12.4.5 GGK6',
  EnrollmentEmailAddress: '',
  EnrollmentUserName: 'zenny',
  EventTime: '2020-02-24T16:52:25.9231303Z',
  EnrollmentStatus: 'Enrolled',
  CompromisedStatus: '',
  CompromisedTimeStamp: '2020-02-24T16:52:28.9075371Z',
  ComplianceStatus: 'Compliant',
  PhoneNumber: '',
  Udid: '902dca357c02dbc1306ff99ffbf4b9c80218f3a3',
  SerialNumber: 'CCQQ44BMGGK6',
  MACAddress: '000000000000',
  DeviceIMEI: '',
  EnrollmentUserId: 12,
  AssetNumber: '902dca357c02dbc1306ff99ffbf4b9c80218f3a3',
  Platform: 'Apple',
  OperatingSystem: '12.4.5',
  Ownership: 'CorporateDedicated',
  SIMMCC: '',
  CurrentMCC: '',
  OrganizationGroupName: 'CEG',
  DeviceUUID: 'f90f1abd-b914-4895-9b59-82e8aecf0e66',
  EnrollmentUserUUID: 'fe13e814-7415-4fce-9f47-de5a55bfe57a',
};

describe('Workspace ONE connector', () => {
  let gw: TestGateway;
  let eg: EscrowGatewayHandle;
  let uem: UemApiHandle;
  let dir: string;
  let files: ReturnType<typeof writeTestTlsFiles>;
  let tls: Awaited<ReturnType<typeof makeTestTls>>;
  let base: string;
  let ca: string[];

  const post = (body: string, contentType = 'application/json', auth = `ws1-events:${EVENTS_PASSWORD}`) =>
    curl(`${base}/connectors/ws1/events`, [...ca, '-u', auth, '-H', `Content-Type: ${contentType}`, '--data-binary', body]);

  /** Opens a base64 PKCS#12 from an upload with the configured password; returns its certificate text. */
  const openUpload = (b64: Buffer, name: string) => {
    const p12 = join(dir, `${name}.p12`);
    writeFileSync(p12, b64);
    const pem = openssl(['pkcs12', '-in', p12, '-passin', `pass:${P12_PASSWORD}`, '-nodes']);
    assert.match(pem, /BEGIN PRIVATE KEY/, 'the key is in the PKCS#12');
    const certFile = join(dir, `${name}.pem`);
    writeFileSync(certFile, pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'), pem.indexOf('-----END CERTIFICATE-----') + 25));
    return { certFile, text: openssl(['x509', '-in', certFile, '-noout', '-text', '-serial']) };
  };

  before(async () => {
    dir = tempDir();
    tls = await makeTestTls();
    files = writeTestTlsFiles(tls, dir);
    eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
    uem = await startUemApi({
      cert: tls.server.cert,
      key: tls.server.key,
      tenantCode: 'tenant-abc',
      basic: { username: 'api', password: 'api-password' },
      oauth: { clientId: 'credgate-client', clientSecret: 'oauth-secret-value' },
    });
    uem.addUser({ id: 12, uuid: SAMPLE_EVENT.EnrollmentUserUUID, userName: 'zenny', email: 'zenny@example.com', upn: 'zenny@corp.example' });
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1',
      ws1Settings({
        eventsPassword: '${WS1_TEST_EVENTS_PASSWORD}',
        pkcs12: { format: 'modern', password: P12_PASSWORD },
        escrowGateway: { ...escrowGatewayOf(eg.url, tls, files), timeout: '2s' },
        uem: { url: uem.url, tenantCode: 'tenant-abc', basic: { username: 'api', password: 'api-password' }, serverCa: files.ca },
      }),
    );
    // A second console: mTLS inbound, no Escrow Gateway (uploadsmimecerts), OAuth to the UEM API.
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1u',
      ws1Settings({
        delivery: 'uem-upload',
        inbound: { clientCertificates: allowTestClient(tls, files) },
        pkcs12: { format: 'modern', password: P12_PASSWORD },
        uem: {
          url: uem.url,
          tenantCode: 'tenant-abc',
          oauth: { tokenUrl: uem.tokenUrl, clientId: 'credgate-client', clientSecret: 'oauth-secret-value' },
          serverCa: files.ca,
        },
      }),
    );
    process.env.WS1_TEST_EVENTS_PASSWORD = EVENTS_PASSWORD;
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '400ms' } } },
    });
    base = `https://localhost:${gw.port}`;
    ca = ['--cacert', join(dir, 'certs/root-ca.pem')];
  });
  after(async () => {
    await gw?.stop();
    await eg?.stop();
    await uem?.stop();
  });

  test('Test Connection: GET with the console credentials answers 200; without them 401', async () => {
    const ok = await curl(`${base}/connectors/ws1/events`, [...ca, '-u', `ws1-events:${EVENTS_PASSWORD}`]);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { status: 'ok', connector: 'ws1' });
    assert.equal((await curl(`${base}/connectors/ws1/events`, ca)).status, 401);
    assert.equal((await post(JSON.stringify(SAMPLE_EVENT), 'application/json', 'ws1-events:wrong-password-xx')).status, 401);
  });

  test("the guide's sample enrollment event yields an EG upload within 5 s whose PKCS#12 files open and carry the user's email", async () => {
    const r = await post(JSON.stringify(SAMPLE_EVENT));
    assert.equal(r.status, 202, r.body);
    const upload = await until('the upload', () => eg.uploads.find((u) => u.deviceUuid === SAMPLE_EVENT.DeviceUUID), 5000);
    assert.equal(upload.userUuid, SAMPLE_EVENT.EnrollmentUserUUID);
    assert.equal(upload.signing.length, 1);
    assert.equal(upload.encryption.length, 1);
    assert.equal(upload.archived.length, 0);
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, openssl(['x509', '-in', join(dir, 'certs/root-ca.pem')]) + openssl(['x509', '-in', join(dir, 'certs/issuing-ca.pem')]));
    for (const [name, p12] of [
      ['signing', upload.signing[0]!],
      ['encryption', upload.encryption[0]!],
    ] as const) {
      const { certFile, text } = openUpload(p12, `sample-${name}`);
      assert.match(text, /email:zenny@example\.com/, 'email resolved through the UEM API, as rfc822Name');
      assert.match(text, /E-mail Protection/);
      assert.match(openssl(['verify', '-CAfile', chain, certFile]), /OK/);
    }
    // the lookup went to the UEM API with the tenant code
    assert.ok(
      uem.requests.some((q) => q.path.startsWith(`/api/system/users/${SAMPLE_EVENT.EnrollmentUserUUID}`) && q.headers['aw-tenant-code'] === 'tenant-abc'),
    );
  });

  test('a redelivered event is acknowledged and creates nothing', async () => {
    const before = eg.uploads.length;
    const again = await post(JSON.stringify(SAMPLE_EVENT));
    assert.equal(again.status, 200);
    assert.equal(again.json().status, 'duplicate');
    await sleep(500);
    assert.equal(eg.uploads.length, before);
  });

  test('XML with a legacy EventType and a /Date()/ time; a second device reuses the user encryption key', async () => {
    const xml = `<?xml version="1.0"?><Eventlog><EventType>MDMEnrollmentComplete</EventType><DeviceId>16</DeviceId><DeviceUUID>2a1c0e1e-0000-4000-8000-000000000016</DeviceUUID>
      <EnrollmentEmailAddress>zenny@example.com</EnrollmentEmailAddress><EnrollmentUserName>zenny</EnrollmentUserName><EnrollmentUserUUID>${SAMPLE_EVENT.EnrollmentUserUUID}</EnrollmentUserUUID>
      <EnrollmentUserId>12</EnrollmentUserId><EventTime>/Date(1368076195887)/</EventTime></Eventlog>`;
    assert.equal((await post(xml, 'application/xml')).status, 202);
    const second = await until('the second device upload', () => eg.uploads.find((u) => u.deviceUuid === '2a1c0e1e-0000-4000-8000-000000000016'));
    const first = eg.uploads.find((u) => u.deviceUuid === SAMPLE_EVENT.DeviceUUID)!;
    const serial = (b: Buffer, n: string) => /serial=([0-9A-F]+)/.exec(openUpload(b, n).text)![1];
    assert.equal(serial(second.encryption[0]!, 'd2-enc'), serial(first.encryption[0]!, 'd1-enc'), 'same encryption credential on both devices');
    assert.notEqual(serial(second.signing[0]!, 'd2-sign'), serial(first.signing[0]!, 'd1-sign'), 'a signing credential per device');
  });

  test('devices of one user enrolling at the same moment share one encryption credential', async () => {
    const devices = [1, 2, 3, 4].map((n) => `7f000000-0000-4000-8000-00000000000${n}`);
    const user = {
      EnrollmentUserUUID: 'aa000000-0000-4000-8000-000000000077',
      EnrollmentUserId: 77,
      EnrollmentEmailAddress: 'pat@example.com',
      EnrollmentUserName: 'pat',
    };
    const answers = await Promise.all(devices.map((d) => post(JSON.stringify({ ...SAMPLE_EVENT, ...user, DeviceUUID: d }))));
    assert.deepEqual(
      answers.map((a) => a.status),
      [202, 202, 202, 202],
    );
    const uploads = await until(
      'four uploads',
      () => {
        const got = eg.uploads.filter((u) => devices.includes(u.deviceUuid));
        return got.length === 4 ? got : undefined;
      },
      20_000,
    );
    const serials = new Set(uploads.map((u, i) => /serial=([0-9A-F]+)/.exec(openUpload(u.encryption[0]!, `pat-${i}`).text)![1]));
    assert.equal(serials.size, 1);
    assert.equal(
      Number((await gw.db('certificates').where({ user_id: user.EnrollmentUserUUID, template: 'smime-encryption' }).count({ n: '*' }).first())?.n),
      1,
    );
  });

  test('malformed, unauthenticated and unknown events', async () => {
    const count = async () => Number((await gw.db('mdm_events').count({ n: '*' }).first())?.n);
    const before = await count();
    const bad = await post('{"EventId": 148,');
    assert.equal(bad.status, 400);
    assert.match(String(bad.json().message), /malformed JSON/);
    assert.equal((await post('<Eventlog><EventId>148</Eventlog>', 'text/xml')).status, 400);
    assert.equal((await post(JSON.stringify({ ...SAMPLE_EVENT, EventTime: 'yesterday' }))).status, 400);
    assert.equal((await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: '', DeviceId: '' }))).status, 400);
    const long = await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: 'd'.repeat(500) }));
    assert.equal(long.status, 400);
    assert.match(String(long.json().message), /device id is 500 characters long/);
    assert.equal(await count(), before, 'nothing stored');
    const unknown = await post(JSON.stringify({ EventId: 9999, EventType: 'Device Renamed', DeviceUUID: 'x-1', EventTime: '2024-01-01T00:00:00Z' }));
    assert.equal(unknown.status, 202);
    assert.equal(await count(), before + 1, 'unknown types are stored');
    const jobs = (await gw.db('jobs').where({ type: 'mdm.event' }).select('payload')) as { payload: string }[];
    assert.ok(!jobs.some((j) => JSON.parse(j.payload).eventId === unknown.json().eventId), 'and get no job');
  });

  test('the EG answers 503 for a while, then 200: the upload arrives once', async () => {
    eg.failNext(3, 503);
    const device = '3b000000-0000-4000-8000-000000000503';
    assert.equal((await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: device, EnrollmentEmailAddress: 'zenny@example.com' }))).status, 202);
    await until('the upload after retries', () => eg.uploads.find((u) => u.deviceUuid === device), 10_000);
    await sleep(500);
    assert.equal(eg.uploads.filter((u) => u.deviceUuid === device).length, 1);
  });

  test('an EG that hangs past the timeout is retried until it answers', async () => {
    eg.hang(3000); // the connector gives up after 2 s
    const device = '3c000000-0000-4000-8000-00000000beef';
    assert.equal((await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: device, EnrollmentEmailAddress: 'zenny@example.com' }))).status, 202);
    await until(
      'a timed-out attempt',
      async () => {
        const job = (await gw.db('jobs').where({ type: 'connector.deliver' }).orderBy('id', 'desc').first()) as { last_error: string | null } | undefined;
        return job?.last_error && /timeout/i.test(job.last_error);
      },
      8000,
    );
    eg.hang(0);
    await until('the upload once the EG answers', () => eg.uploads.find((u) => u.deviceUuid === device), 10_000);
    await sleep(300);
    assert.equal(eg.uploads.filter((u) => u.deviceUuid === device).length, 1);
  });

  test('a 4xx from the EG ends the job with the answer kept', async () => {
    eg.failNext(1, 422);
    const device = '4c000000-0000-4000-8000-000000000422';
    await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: device, EnrollmentEmailAddress: 'zenny@example.com' }));
    const job = await until('the dead delivery job', async () =>
      (await gw.db('jobs').where({ type: 'connector.deliver', status: 'dead' })).find((j: { last_error: string }) => /422/.test(j.last_error)),
    );
    assert.match(job.last_error, /Escrow Gateway answered 422/);
    const delivery = await gw.db('deliveries').where({ device_id: device }).first();
    assert.equal(delivery.status, 'failed');
    assert.equal(eg.uploads.filter((u) => u.deviceUuid === device).length, 0);
  });

  test('an enrollment that fails after signing leaves no signing certificate behind; its retry issues exactly one', async () => {
    const device = '4d000000-0000-4000-8000-0000000000f1';
    // The database refuses the delivery record, as a crash between the certificate and its delivery would lose it.
    await gw.db.raw("CREATE TRIGGER refuse_delivery BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'delivery refused by the test'); END");
    try {
      assert.equal((await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: device, EnrollmentEmailAddress: 'zenny@example.com' }))).status, 202);
      await until(
        'a failed enrollment attempt',
        async () => {
          const job = (await gw.db('jobs').where({ type: 'mdm.event' }).orderBy('id', 'desc').first()) as { last_error: string | null; attempts: number };
          return job.attempts >= 2 && /delivery refused/.test(job.last_error ?? '');
        },
        10_000,
      );
      const signing = await gw.db('certificates').where({ device_id: device, template: 'smime-signing' });
      assert.deepEqual(signing, [], 'the signing certificate rolled back with its delivery');
    } finally {
      await gw.db.raw('DROP TRIGGER refuse_delivery');
    }
    await until('the upload once deliveries are accepted again', () => eg.uploads.find((u) => u.deviceUuid === device), 10_000);
    const signing = (await gw.db('certificates').where({ device_id: device, template: 'smime-signing' })) as { serial: string; status: string }[];
    assert.equal(signing.length, 1, 'one signing certificate for the device');
    const delivery = (await gw.db('deliveries').where({ device_id: device }).first()) as { serials: string };
    assert.ok(JSON.parse(delivery.serials).includes(signing[0]!.serial), 'and it is the one delivered');
  });

  test('unenrollment revokes the device signing certificate and keeps the encryption one', async () => {
    // Issued for the same device id and template by someone else (the admin API): not this connector's to revoke.
    const bystander = await gw.issuance.issuer.issue({
      template: 'smime-signing',
      data: { user: { email: 'zenny@example.com', displayName: 'zenny' } },
      deviceId: SAMPLE_EVENT.DeviceUUID,
      actor: 'admin',
    });
    const unenroll = {
      EventId: 39,
      EventType: 'Break MDM Confirmed',
      DeviceId: 15,
      DeviceUUID: SAMPLE_EVENT.DeviceUUID,
      EventTime: '2020-03-01T10:00:00Z',
      EnrollmentEmailAddress: '',
      EnrollmentUserName: '',
    };
    assert.equal((await post(JSON.stringify(unenroll))).status, 202);
    const certs = await until('the revocation', async () => {
      const rows = (await gw.db('certificates').where({ device_id: SAMPLE_EVENT.DeviceUUID })) as {
        template: string;
        status: string;
        revocation_reason: string;
      }[];
      return rows.some((r) => r.status === 'revoked') ? rows : undefined;
    });
    assert.deepEqual(
      certs
        .filter((c) => (c as { serial?: string }).serial !== bystander.record.serial)
        .map((c) => [c.template, c.status, c.revocation_reason])
        .sort(),
      [
        ['smime-encryption', 'valid', null],
        ['smime-signing', 'revoked', 'cessationOfOperation'],
      ],
    );
    assert.equal(
      (await gw.db('certificates').where({ serial: bystander.record.serial }).first()).status,
      'valid',
      "another issuer's certificate for the device stays valid",
    );
  });

  test('renewal: sets nearing expiry are re-issued and uploaded again once, with the old encryption credential archived', async () => {
    const device = '5d000000-0000-4000-8000-0000000000aa';
    assert.equal(
      (await post(JSON.stringify({ ...SAMPLE_EVENT, DeviceUUID: device, EnrollmentEmailAddress: 'zenny@example.com', EventTime: '2024-05-01T00:00:00Z' })))
        .status,
      202,
    );
    const first = await until('the first upload', () => eg.uploads.find((u) => u.deviceUuid === device));
    await until('the delivery to be recorded', async () => (await gw.db('deliveries').where({ device_id: device, status: 'delivered' }).first()) as unknown);
    // Time passes: the delivered credentials now expire in a day.
    const soon = Date.now() + 86_400_000;
    await gw.db('deliveries').where({ device_id: device }).update({ expires_at: soon });
    await gw.db('certificates').where({ user_id: SAMPLE_EVENT.EnrollmentUserUUID, template: 'smime-encryption' }).update({ not_after: soon });

    const queued = await gw.connectors.scheduleRenewals('ws1');
    assert.equal(queued.length, 1);
    assert.deepEqual(await gw.connectors.scheduleRenewals('ws1'), [], 'a second run queues nothing');
    const second = await until('the renewal upload', () => eg.uploads.filter((u) => u.deviceUuid === device)[1]);
    const serial = (b: Buffer, n: string) => /serial=([0-9A-F]+)/.exec(openUpload(b, n).text)![1];
    assert.notEqual(serial(second.signing[0]!, 'r-sign'), serial(first.signing[0]!, 'f-sign'));
    assert.notEqual(serial(second.encryption[0]!, 'r-enc'), serial(first.encryption[0]!, 'f-enc'), 'a new encryption credential');
    assert.deepEqual(
      second.archived.map((b, i) => serial(b, `r-arch-${i}`)),
      [serial(first.encryption[0]!, 'f-enc2')],
      'the old one archived',
    );
    await sleep(300);
    assert.deepEqual(await gw.connectors.scheduleRenewals('ws1'), [], 'the renewed set is not due');
    assert.equal(eg.uploads.filter((u) => u.deviceUuid === device).length, 2);
  });

  test('mTLS console, uploadsmimecerts delivery over OAuth, token refreshed after expiry', async () => {
    const mtls = (cert: string, key: string, body: unknown) =>
      curl(`${base}/connectors/ws1u/events`, [
        ...ca,
        '--cert',
        cert,
        '--key',
        key,
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        JSON.stringify(body),
      ]);
    const event = (n: number) => ({
      ...SAMPLE_EVENT,
      DeviceUUID: `6e000000-0000-4000-8000-00000000000${n}`,
      EnrollmentEmailAddress: 'zenny@example.com',
      EventTime: `2024-06-0${n}T00:00:00Z`,
    });
    assert.equal((await mtls(files.otherClientCert, files.otherClientKey, event(1))).status, 401, 'a certificate not on the allowlist');
    assert.equal(
      (await curl(`${base}/connectors/ws1u/events`, [...ca, '-u', `ws1-events:${EVENTS_PASSWORD}`, '--data', '{}'])).status,
      401,
      'Basic is not configured here',
    );
    assert.equal((await mtls(files.clientCert, files.clientKey, event(1))).status, 202);
    const upload = await until('the uploadsmimecerts call', () => uem.uploads[0]);
    assert.equal(String(upload.userId), '12');
    assert.equal(upload.auth, 'bearer');
    assert.equal(upload.signing?.password, P12_PASSWORD);
    assert.match(openUpload(upload.signing!.payload, 'uem-sign').text, /email:zenny@example\.com/);
    uem.expireTokens();
    assert.equal((await mtls(files.clientCert, files.clientKey, event(2))).status, 202);
    await until('the upload after the token expired', () => uem.uploads[1]);
    assert.equal(uem.tokensIssued, 2);
  });

  test("the console CA the listener now trusts cannot mint the admin: its certificate with the admin's subject gets 401 on admin routes", async () => {
    const forged = await issueTestClient(tls.ca, 'credgate-admin', undefined, 'credgate dev');
    const cert = join(dir, 'forged-admin.pem');
    const key = join(dir, 'forged-admin-key.pem');
    writeFileSync(cert, forged.cert + tls.caPem);
    writeFileSync(key, forged.key);
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', cert, '--key', key]);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /not on the allowlist/);
  });
});
