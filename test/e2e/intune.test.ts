/**
 * SCEP profiles whose challenges Intune validates, with a real SCEP client
 * (scepclient, Debian package `scep`) against the gateway and the Intune
 * stand-ins: Success issues and is reported back with the certificate's
 * serial and thumbprint; any other verdict issues nothing; a validated
 * request that is then refused (by policy or by an operator) is reported as
 * failed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCsr } from '../../src/pki/csr.js';
import { intuneSettings, writeConnectorFile, type Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { openssl } from '../helpers/openssl.js';
import { opensslCsr } from '../helpers/openssl-csr.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud } from '../helpers/intune-standins.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { deviceCsr, newDevice, pkiMessage, readCertRep, type Identity } from '../helpers/scep-client.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = 'c0ffee00-14a6-49ae-97bc-6eba6914391e';

describe('SCEP with Intune challenge validation', () => {
  let cloud: IntuneCloud;
  let gw: TestGateway;
  let dir: string;
  let base: string;
  let rootPem: string;
  /** What connectors/intune.yaml says. */
  let settings: Settings;

  const scepclient = (args: string[]): Promise<{ code: number; output: string }> =>
    new Promise((resolve) => {
      execFile('scepclient', args, { env: { ...process.env, SSL_CERT_FILE: rootPem }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });
  const files = (name: string) => {
    mkdirSync(join(dir, 'devices', name), { recursive: true });
    return { key: join(dir, 'devices', name, 'key.pem'), cert: join(dir, 'devices', name, 'cert.pem') };
  };
  const enroll = (name: string, profile: string, challenge: string) => {
    const f = files(name);
    return scepclient([
      '-server-url',
      `${base}/scep/${profile}`,
      '-private-key',
      f.key,
      '-certificate',
      f.cert,
      '-cn',
      name,
      '-organization',
      'Contoso',
      '-challenge',
      challenge,
    ]);
  };
  const certificates = async () => Number((await gw.db('certificates').count({ n: '*' }).first())?.n);
  /** The validateRequest call that carried this challenge, and the notifications for its transaction. */
  const callsFor = (challenge: string) => {
    const validate = cloud.scepCalls.find(
      (c) => c.action === 'validateRequest' && parseCsr(Buffer.from(c.body.request!.certificateRequest as string, 'base64')).challengePassword === challenge,
    );
    const tx = validate ? validate.body.request!.transactionId : undefined;
    return { validate, notifications: cloud.scepCalls.filter((c) => c.action !== 'validateRequest' && c.body.notification!.transactionId === tx) };
  };

  before(async () => {
    dir = tempDir();
    const tls = await makeTestTls();
    const caFile = writeTestTlsFiles(tls, dir).ca;
    cloud = await startIntuneCloud({ tls: tls.server, tenant: TENANT, clientId: CLIENT_ID, clientSecret: 'scep-app-secret-value' });
    settings = intuneSettings(cloud, {
      clientSecret: 'scep-app-secret-value',
      trust: caFile,
      timeout: '3s',
      enrolled: { signing: 'smime-signing' },
      pkcs12: { password: 'pfx-password-1' },
      polling: { interval: '1h' },
      connectorPublicKey: cloud.connectorPublicKeyPem,
      scepValidation: { callerInfo: 'credgate-e2e' },
    });
    writeConnectorFile(join(dir, 'connectors'), 'intune', settings);
    gw = await startTestGateway({
      dir,
      overrides: {
        connectors: { dir: join(dir, 'connectors') },
        scep: {
          profiles: {
            default: {},
            intune: { template: 'device-identity', challenge: { intune: 'intune' } },
            'intune-escrow': { template: 'smime-encryption', challenge: { intune: 'intune' } },
            'intune-approval': { template: 'device-identity', challenge: { intune: 'intune' }, approval: true },
            'intune-generic': { template: 'device-identity', challenge: { connector: 'intune' } },
          },
        },
      },
    });
    base = `https://localhost:${gw.port}`;
    rootPem = join(dir, 'certs/root-ca.pem');
  });
  after(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  test('Success: Intune validates the request, the certificate is issued, and Intune is told its serial and thumbprint', async () => {
    const challenge = cloud.scepChallenge('Success');
    const run = await enroll('intune-device-1', 'intune', challenge);
    assert.equal(run.code, 0, run.output);
    const cert = new X509Certificate(readFileSync(files('intune-device-1').cert));
    assert.match(cert.subject, /CN=intune-device-1/);

    const { validate, notifications } = callsFor(challenge);
    assert.ok(validate, 'validateRequest was called with the request');
    assert.deepEqual(Object.keys(validate.body.request!).sort(), ['callerInfo', 'certificateRequest', 'transactionId']);
    assert.equal(validate.body.request!.callerInfo, 'credgate-e2e');
    assert.equal(validate.headers['api-version'], '2018-02-20');
    assert.match(String(validate.headers['client-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(validate.headers['user-agent'], 'credgate-e2e');
    assert.match(String(validate.headers.authorization), /^Bearer /);

    assert.deepEqual(
      notifications.map((n) => n.action),
      ['successNotification'],
    );
    const n = notifications[0]!.body.notification!;
    assert.equal(n.certificateSerialNumber, cert.serialNumber.toLowerCase());
    assert.equal(n.certificateThumbprint, createHash('sha1').update(cert.raw).digest('hex'));
    assert.equal(Date.parse(n.certificateExpirationDateUtc as string), Date.parse(cert.validTo));
    assert.match(n.certificateExpirationDateUtc as string, /Z$/);
    assert.equal(n.issuingCertificateAuthority, cert.issuer.split('\n').join(', '));
    assert.equal(n.caConfiguration, 'dev');
    assert.equal(n.certificateRequest, validate.body.request!.certificateRequest);
    const row = await gw.db('scep_transactions').where({ transaction_id: n.transactionId }).first();
    assert.equal(row.status, 'issued');
    assert.equal(row.serial, cert.serialNumber.toLowerCase());
  });

  test('ChallengeExpired: the client gets FAILURE (badRequest), nothing is issued, Intune is not notified', async () => {
    const before = await certificates();
    const challenge = cloud.scepChallenge('ChallengeExpired', 'The challenge has expired');
    const run = await enroll('intune-device-expired', 'intune', challenge);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /failInfo: badRequest/);
    assert.ok(!existsSync(files('intune-device-expired').cert));
    assert.equal(await certificates(), before);
    const { validate, notifications } = callsFor(challenge);
    assert.ok(validate);
    assert.deepEqual(notifications, []);
    const row = await gw.db('scep_transactions').where({ transaction_id: validate.body.request!.transactionId }).first();
    assert.equal(row.status, 'rejected');
    assert.equal(row.reason, 'Intune refused the request (ChallengeExpired): The challenge has expired');
  });

  test('the validation service failing is no verdict: nothing is recorded, and the device enrolls when it tries again', async () => {
    const challenge = cloud.scepChallenge('Success');
    cloud.failNext('POST /ScepRequestValidationFEService/ScepActions/validateRequest', 1, 503);
    const failed = await enroll('intune-device-retry', 'intune', challenge);
    assert.notEqual(failed.code, 0, failed.output);
    assert.ok(!existsSync(files('intune-device-retry').cert));
    const again = await enroll('intune-device-retry', 'intune', challenge);
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(
      callsFor(challenge).notifications.map((n) => n.action),
      ['successNotification'],
    );
  });

  test('validated but refused by policy: FAILURE for the client and a failureNotification with the reason', async () => {
    const before = await certificates();
    const challenge = cloud.scepChallenge('Success');
    const run = await enroll('intune-device-escrow', 'intune-escrow', challenge);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /failInfo: badRequest/);
    assert.equal(await certificates(), before);
    const { notifications } = callsFor(challenge);
    assert.deepEqual(
      notifications.map((n) => n.action),
      ['failureNotification'],
    );
    const n = notifications[0]!.body.notification!;
    assert.equal(n.hResult, -2147467259);
    assert.match(n.errorDescription as string, /escrows keys/);
    assert.equal(n.callerInfo, 'credgate-e2e');
  });

  test('names Intune validated still carry no invisible characters, and usages come from the template, not the request', async () => {
    const ra = new X509Certificate(readFileSync(join(dir, 'certs/scep-ra.pem')));
    const send = async (subject: string, addext: string[] = []) => {
      const device = await newDevice('intune-names');
      const challenge = cloud.scepChallenge('Success');
      const req = await pkiMessage({ type: 'PKCSReq', inner: opensslCsr(device.key, { subject, addext, challenge }), signer: device, recipients: [ra] });
      const file = join(dir, `names-${req.transactionId}.der`);
      writeFileSync(file, req.der);
      const sent = await curl(`${base}/scep/intune?operation=PKIOperation`, [
        '--cacert',
        rootPem,
        '-H',
        'Content-Type: application/x-pki-message',
        '--data-binary',
        `@${file}`,
        '-o',
        `${file}.rep`,
      ]);
      assert.equal(sent.status, 200);
      return { rep: readCertRep(readFileSync(`${file}.rep`), ra, device), challenge };
    };
    const before = await certificates();
    const bidi = await send('/CN=intune-\u202Egpj.exe');
    assert.equal(bidi.rep.status, 'FAILURE');
    assert.equal(bidi.rep.failInfo, 'badRequest');
    assert.equal(await certificates(), before);
    assert.deepEqual(
      callsFor(bidi.challenge).notifications.map((n) => n.action),
      ['failureNotification'],
      'Intune hears why',
    );
    assert.match(callsFor(bidi.challenge).notifications[0]!.body.notification!.errorDescription as string, /U\+202E/);

    const usages = await send('/CN=intune-wants-ca', [
      'basicConstraints=critical,CA:TRUE',
      'extendedKeyUsage=serverAuth,codeSigning',
      'subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:jane@example.com',
    ]);
    assert.equal(usages.rep.status, 'SUCCESS', usages.rep.failInfo);
    const cert = usages.rep.certificates[0]!;
    assert.equal(cert.ca, false);
    assert.equal(cert.subjectAltName, 'othername:UPN:jane@example.com', 'the names Intune validated');
    assert.doesNotMatch(openssl(['x509', '-noout', '-text'], cert.toString()), /Code Signing|TLS Web Server/);
  });

  test('challenge: { connector: <id> } hands the profile to the connector as { intune: <id> } does: Intune decides enrollments and renewals, and the names are those it validated', async () => {
    const ra = new X509Certificate(readFileSync(join(dir, 'certs/scep-ra.pem')));
    const device = await newDevice('intune-generic');
    const send = async (type: 'PKCSReq' | 'RenewalReq', signer: Identity, challenge: string) => {
      const csr = opensslCsr(device.key, {
        subject: '/CN=intune-generic',
        addext: ['subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:generic@example.com'],
        challenge,
      });
      const req = await pkiMessage({ type, inner: csr, signer, recipients: [ra] });
      const file = join(dir, `generic-${req.transactionId}.der`);
      writeFileSync(file, req.der);
      const sent = await curl(`${base}/scep/intune-generic?operation=PKIOperation`, [
        '--cacert',
        rootPem,
        '-H',
        'Content-Type: application/x-pki-message',
        '--data-binary',
        `@${file}`,
        '-o',
        `${file}.rep`,
      ]);
      assert.equal(sent.status, 200);
      return readCertRep(readFileSync(`${file}.rep`), ra, signer);
    };
    const challenge = cloud.scepChallenge('Success');
    const first = await send('PKCSReq', device, challenge);
    assert.equal(first.status, 'SUCCESS', first.failInfo);
    assert.ok(callsFor(challenge).validate, 'Intune validated the request');
    assert.deepEqual(
      callsFor(challenge).notifications.map((n) => n.action),
      ['successNotification'],
    );
    assert.equal(first.certificates[0]!.subjectAltName, 'othername:UPN:generic@example.com', 'names: mdm by default, as for { intune: <id> }');

    // Same names, signed by the certificate just issued: enough for a renewal where the gateway checks challenges itself, not where Intune does.
    const refused = cloud.scepChallenge('ChallengeExpired', 'The challenge has expired');
    const before = await certificates();
    const renewal = await send('RenewalReq', { key: device.key, cert: first.certificates[0]! }, refused);
    assert.equal(renewal.status, 'FAILURE');
    assert.equal(renewal.failInfo, 'badRequest');
    assert.ok(callsFor(refused).validate, 'the renewal went to Intune');
    assert.equal(await certificates(), before);
  });

  test('start-up stops when challenge: { connector: <id> } names no connector, or one that validates no SCEP challenges', async () => {
    const other = tempDir();
    mkdirSync(join(other, 'connectors'));
    writeFileSync(join(other, 'connectors/intune.yaml'), readFileSync(join(dir, 'connectors/intune.yaml')));
    writeFileSync(
      join(other, 'connectors/ws1.yaml'),
      [
        'kind: workspace-one',
        'delivery: uem-upload',
        'inbound: { basic: [{ username: console, password: ws1-console-password }] }',
        'policy:',
        '  enrolled: { signing: smime-signing }',
        '  pkcs12: { format: modern, password: ws1-profile-password }',
        'uem: { url: "https://127.0.0.1:9", tenantCode: tenant-ws1, basic: { username: api, password: api-password } }',
      ].join('\n'),
    );
    const start = (challenge: Record<string, string>) =>
      startTestGateway({ dir: other, overrides: { connectors: { dir: join(other, 'connectors') }, scep: { profiles: { default: {}, x: { challenge } } } } });
    await assert.rejects(
      start({ connector: 'nope' }),
      /^StartupError: scep\.profiles\.x\.challenge\.connector: no connector "nope" \(configured connectors that do: intune\)$/,
    );
    await assert.rejects(
      start({ connector: 'ws1' }),
      /^StartupError: scep\.profiles\.x\.challenge\.connector: connector "ws1" \(workspace-one\) does not validate SCEP challenges \(configured connectors that do: intune\)$/,
    );
    await assert.rejects(
      start({ intune: 'ws1' }),
      /^StartupError: scep\.profiles\.x\.challenge\.intune: no Intune connector "ws1" \(configured Intune connectors: intune\)$/,
    );
  });

  test('validated, then rejected by an operator: Intune gets a failureNotification', async () => {
    const ra = new X509Certificate(readFileSync(join(dir, 'certs/scep-ra.pem')));
    const device = await newDevice('intune-pending');
    const challenge = cloud.scepChallenge('Success');
    const req = await pkiMessage({
      type: 'PKCSReq',
      inner: deviceCsr(device, [{ type: 'CN', value: 'intune-pending' }], challenge),
      signer: device,
      recipients: [ra],
    });
    writeFileSync(join(dir, 'pending.der'), req.der);
    const sent = await curl(`${base}/scep/intune-approval?operation=PKIOperation`, [
      '--cacert',
      rootPem,
      '-H',
      'Content-Type: application/x-pki-message',
      '--data-binary',
      `@${join(dir, 'pending.der')}`,
      '-o',
      join(dir, 'pending-rep.der'),
    ]);
    assert.equal(sent.status, 200);
    assert.equal(readCertRep(readFileSync(join(dir, 'pending-rep.der')), ra, device).status, 'PENDING');
    assert.deepEqual(callsFor(challenge).notifications, [], 'nothing to report while it waits');
    const waiting = await gw.db('scep_transactions').where({ transaction_id: req.transactionId }).first();
    const id = waiting.id as number;
    // The challenge is Intune's secret: the waiting request is kept without it, and as received only sealed.
    assert.equal(parseCsr(Buffer.from(waiting.csr as string, 'base64')).challengePassword, undefined);
    for (const column of Object.values(waiting as Record<string, unknown>))
      assert.ok(!String(column).includes(challenge), 'no column holds the challenge in clear');
    assert.ok(waiting.csr_sealed);
    const rejected = await curl(`${base}/api/v1/scep/requests/${id}/reject`, [
      ...adminCurlArgs(join(dir, 'certs')),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify({ reason: 'unknown device' }),
    ]);
    assert.equal(rejected.status, 200, rejected.body);
    const { notifications } = callsFor(challenge);
    assert.deepEqual(
      notifications.map((n) => n.action),
      ['failureNotification'],
    );
    assert.equal(notifications[0]!.body.notification!.errorDescription, 'unknown device');
    assert.equal(
      notifications[0]!.body.notification!.certificateRequest,
      callsFor(challenge).validate!.body.request!.certificateRequest,
      'Intune is told with the request it validated',
    );
    const decided = await gw.db('scep_transactions').where({ id }).first();
    assert.equal(decided.csr, null);
    assert.equal(decided.csr_sealed, null);
  });

  test('start-up stops, naming the setting, for a profile without its Intune connector and for a client certificate without its key', async () => {
    await assert.rejects(
      startTestGateway({ dir: tempDir(), overrides: { scep: { profiles: { default: {}, x: { challenge: { intune: 'nope' } } } } } }),
      /scep\.profiles\.x\.challenge\.intune: no Intune connector "nope" \(configured Intune connectors: none\)/,
    );
    const other = tempDir();
    const tls = await makeTestTls();
    const f = writeTestTlsFiles(tls, other);
    writeConnectorFile(join(other, 'connectors'), 'intune', {
      ...settings,
      clientSecret: undefined,
      clientCertificate: { cert: f.clientCert, key: f.otherClientKey },
    });
    await assert.rejects(
      startTestGateway({ dir: other, overrides: { connectors: { dir: join(other, 'connectors') } } }),
      /connectors\/intune\.yaml clientCertificate\.key: .*other-client-key\.pem is not the RSA key of .*client\.pem/,
    );
  });
});
