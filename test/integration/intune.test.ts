/**
 * The Intune connector against local stand-ins for Entra ID, Graph and the
 * Intune services (test/helpers/intune-standins.ts), over HTTPS with a test
 * CA: devices found by polling (with paging) become S/MIME imports that the
 * stand-in opens with the password it decrypted; vanished devices get their
 * signing certificate revoked; 429, failed pages and revoked tokens; Intune's
 * revocation requests answered with its error codes.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { intune } from '../../connectors/intune/index.js';
import { intuneSchema } from '../../connectors/intune/schema.js';
import type { Connector } from '../../src/connectors/connector.js';
import type { ConnectorContext } from '../../src/connectors/module.js';
import { OAuthClient } from '../../src/connectors/oauth-client.js';
import { createLogger } from '../../src/observability/logger.js';
import { intuneSettings, writeConnectorFile, type Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud, type ManagedDevice } from '../helpers/intune-standins.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, writeTestTlsFiles, type TestTls } from '../helpers/ws1-standins.js';
import axios from 'axios';
import { Agent } from 'node:https';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '6731de76-14a6-49ae-97bc-6eba6914391e';
const CLIENT_SECRET = 'app-secret-Zq8~not-for-logs';
const P12_PASSWORD = 'Intune-pfx-password-7';

const sha1 = (der: Buffer) => createHash('sha1').update(der).digest('hex');

describe('Intune connector', () => {
  let tls: TestTls;
  let cloud: IntuneCloud;
  let gw: TestGateway;
  let dir: string;
  let caFile: string;
  /** What connectors/intune.yaml says. */
  let fileSettings: Settings;

  const user = (n: string, mail: string | undefined = `${n}@contoso.com`) => {
    const id = `${n}-0000-4000-8000-${n.padEnd(12, '0').slice(0, 12)}`;
    cloud.users.set(id, { id, userPrincipalName: `${n}@contoso.onmicrosoft.com`, ...(mail && { mail }), displayName: `User ${n}` });
    return id;
  };
  const device = (id: string, userId: string, extra: Partial<ManagedDevice> = {}): ManagedDevice => {
    const u = cloud.users.get(userId)!;
    return {
      id,
      userId,
      userPrincipalName: u.userPrincipalName,
      emailAddress: u.mail ?? '',
      enrolledDateTime: '2024-05-02T10:00:00Z',
      serialNumber: `SN-${id}`,
      operatingSystem: 'iOS',
      complianceState: 'compliant',
      managedDeviceOwnerType: 'company',
      ...extra,
    };
  };
  const importsOf = (userId: string) => cloud.imports.filter((i) => i.userId === userId);
  const certRow = (serial: string) =>
    gw.db('certificates').where({ serial }).first() as Promise<
      { status: string; revocation_reason: string | null; device_id: string; template: string } | undefined
    >;
  const serialOf = (c: X509Certificate) => c.serialNumber.toLowerCase();

  before(async () => {
    dir = tempDir();
    tls = await makeTestTls();
    caFile = writeTestTlsFiles(tls, dir).ca;
    cloud = await startIntuneCloud({
      tls: tls.server,
      tenant: TENANT,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientCertificate: new X509Certificate(tls.client.cert),
      pageSize: 2,
    });
    // Two devices already enrolled before the gateway first looks: a fresh install enrolls them.
    const alice = user('alice');
    const bob = user('bob');
    cloud.devices.push(device('dev-alice-1', alice), device('dev-bob-1', bob));
    writeFileSync(join(dir, 'connector-key.pem'), cloud.connectorPublicKeyPem);
    fileSettings = intuneSettings(cloud, {
      clientSecret: '${INTUNE_TEST_CLIENT_SECRET}',
      trust: caFile,
      timeout: '3s',
      pkcs12: { format: 'modern', password: P12_PASSWORD },
      polling: { interval: '400ms', unenrollGuard: { atLeast: 2 } },
      connectorPublicKey: join(dir, 'connector-key.pem'),
      revocation: { enabled: true, interval: '300ms', maxRequests: 50 },
    });
    writeConnectorFile(join(dir, 'connectors'), 'intune', fileSettings);
    process.env.INTUNE_TEST_CLIENT_SECRET = CLIENT_SECRET;
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '300ms' } } },
    });
  });
  after(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  test('a fresh install treats devices already in Intune as enrolled: both users get signing and encryption imports', async () => {
    for (const name of ['alice', 'bob']) {
      const userId = [...cloud.users.values()].find((u) => u.userPrincipalName.startsWith(name))!.id;
      const imports = await until(`${name}'s imports`, () => importsOf(userId).length === 2 && importsOf(userId), 10_000);
      assert.deepEqual(imports.map((i) => i.body.intendedPurpose).sort(), ['smimeEncryption', 'smimeSigning']);
      for (const i of imports) {
        assert.equal(i.password, P12_PASSWORD, 'the stand-in decrypted the configured password with the connector key');
        assert.ok(i.keyMatches, 'the PKCS#12 holds the private key of its certificate');
        assert.equal(i.body.thumbprint, sha1(i.certificate.raw));
        assert.equal(i.body.paddingScheme, 'oaepSha512');
        assert.equal(i.body.providerName, 'Microsoft Software Key Storage Provider');
        assert.equal(i.body.keyName, 'PFXEncryptionKey');
        assert.equal(i.body.userPrincipalName, `${name}@contoso.onmicrosoft.com`);
        assert.match(i.certificate.subjectAltName ?? '', new RegExp(`email:${name}@contoso\\.com`));
        assert.equal((await certRow(serialOf(i.certificate)))?.status, 'valid', 'a certificate of ours');
      }
    }
    assert.deepEqual(cloud.refused, []);
  });

  test('a device that appears on the second page is imported within seconds, its signing certificate bound to it', async () => {
    const carol = user('carol');
    cloud.devices.push(device('dev-carol-1', carol, { enrolledDateTime: '2024-06-01T08:00:00Z' }));
    const imports = await until("carol's imports", () => importsOf(carol).length === 2 && importsOf(carol), 5000);
    assert.ok(
      cloud.requests.some((r) => r.path.includes('/managedDevices') && r.path.includes('%24skiptoken=2')),
      'the nextLink to page 2 was followed',
    );
    const signing = imports.find((i) => i.body.intendedPurpose === 'smimeSigning')!;
    const row = await certRow(serialOf(signing.certificate));
    assert.equal(row?.device_id, 'dev-carol-1');
    assert.equal(row?.template, 'smime-signing');
    const event = await gw.db('mdm_events').where({ connector_id: 'intune', device_id: 'dev-carol-1', type: 'enrolled' }).first();
    assert.equal(event.dedupe_key, 'intune:dev-carol-1:enrolled:2024-06-01T08:00:00Z');
  });

  test('a device without an email in its listing gets one from the Entra user record', async () => {
    const dave = user('dave', 'dave.mail@contoso.com');
    cloud.devices.push({ ...device('dev-dave-1', dave), emailAddress: '' });
    const imports = await until("dave's imports", () => importsOf(dave).length === 2 && importsOf(dave), 5000);
    assert.match(imports[0]!.certificate.subjectAltName ?? '', /email:dave\.mail@contoso\.com/);
    assert.ok(cloud.requests.some((r) => r.server === 'graph' && r.path.startsWith(`/v1.0/users/${dave}`)));
  });

  test('a second device of a user brings the same encryption certificate and its own signing one; nothing is imported twice', async () => {
    const alice = [...cloud.users.values()].find((u) => u.userPrincipalName.startsWith('alice'))!.id;
    const before = importsOf(alice).length;
    cloud.devices.push(device('dev-alice-2', alice, { enrolledDateTime: '2024-07-01T00:00:00Z' }));
    await until('the second signing import', () => importsOf(alice).filter((i) => i.body.intendedPurpose === 'smimeSigning').length === 2, 5000);
    await until('the delivery to be recorded', async () => gw.db('deliveries').where({ device_id: 'dev-alice-2', status: 'delivered' }).first());
    assert.equal(importsOf(alice).length, before + 1, 'the shared encryption certificate was found in Intune and not imported again');
    assert.ok(
      cloud.requests.some((r) => r.method === 'GET' && r.path.startsWith('/beta/deviceManagement/userPfxCertificates?$filter=tolower(userPrincipalName)')),
    );
  });

  test('a listing whose second page fails unenrolls nobody', async () => {
    const count = async () => Number((await gw.db('mdm_events').where({ connector_id: 'intune', type: 'unenrolled' }).count({ n: '*' }).first())?.n);
    const before = await count();
    const logged = () =>
      gw
        .logs()
        .split('\n')
        .filter((l) => l.includes('managed device listing failed')).length;
    const failedBefore = logged();
    // 502: a 429 or 503 is waited out within the listing (see the throttling tests).
    cloud.failNext(/^GET \/v1\.0\/deviceManagement\/managedDevices\?.*\$skiptoken=2/, 3, 502);
    await until('three failed listings', () => logged() >= failedBefore + 3, 5000);
    assert.equal(await count(), before);
    assert.equal(Number((await gw.db('intune_devices').where({ connector_id: 'intune' }).count({ n: '*' }).first())?.n), cloud.devices.length);
  });

  test('a vanished device is unenrolled: its signing certificate is revoked and its import deleted, the encryption one kept', async () => {
    const bob = [...cloud.users.values()].find((u) => u.userPrincipalName.startsWith('bob'))!.id;
    const signing = importsOf(bob).find((i) => i.body.intendedPurpose === 'smimeSigning')!;
    const encryption = importsOf(bob).find((i) => i.body.intendedPurpose === 'smimeEncryption')!;
    cloud.devices.splice(
      cloud.devices.findIndex((d) => d.id === 'dev-bob-1'),
      1,
    );
    const serial = serialOf(signing.certificate);
    const r = await until(
      'the revocation',
      async () => {
        const res = await curl(`${gw.url.replace(/\/$/, '')}/api/v1/certificates/${serial}`, adminCurlArgs(join(dir, 'certs')));
        const cert = res.status === 200 && (res.json().certificate as { status: string; revocationReason: string });
        return cert && cert.status === 'revoked' && cert;
      },
      5000,
    );
    assert.equal(r.revocationReason, 'cessationOfOperation');
    assert.equal((await certRow(serialOf(encryption.certificate)))?.status, 'valid');
    const event = await gw.db('mdm_events').where({ connector_id: 'intune', device_id: 'dev-bob-1', type: 'unenrolled' }).first();
    assert.equal(event.dedupe_key, 'intune:dev-bob-1:unenrolled:2024-05-02T10:00:00Z');
    // Intune would keep pushing the revoked signing PFX to bob's devices: its import goes, the encryption import stays.
    await until('the signing import to be deleted', () => !importsOf(bob).some((i) => i.id === signing.id), 5000);
    assert.ok(
      importsOf(bob).some((i) => i.id === encryption.id),
      'the encryption import stays',
    );
    assert.ok(cloud.requests.some((q) => q.method === 'DELETE' && q.path === `/beta/deviceManagement/userPfxCertificates/${encodeURIComponent(signing.id)}`));
  });

  test('429 with Retry-After: the import is retried no sooner than asked, and lands once', async () => {
    const erin = user('erin');
    cloud.failNext('POST /beta/deviceManagement/userPfxCertificates', 1, 429, { 'Retry-After': '2' });
    cloud.devices.push(device('dev-erin-1', erin));
    const imports = await until("erin's imports", () => importsOf(erin).length === 2 && importsOf(erin), 10_000);
    const posts = cloud.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/beta/deviceManagement/userPfxCertificates' &&
        (r.body as { userPrincipalName?: string }).userPrincipalName?.startsWith('erin'),
    );
    assert.equal(posts.length, 3, 'one refused with 429, then one per certificate');
    // The job that delivered erin's set ran twice: the 429 failed its first attempt (a completed job keeps its attempt count, not its last error).
    const job = await until('the delivery job to finish', async () => {
      const jobs = (await gw.db('jobs').where({ type: 'connector.deliver', status: 'done' }).select('attempts', 'result')) as {
        attempts: number;
        result: string | null;
      }[];
      return jobs.find((j) => j.result?.includes(erin));
    });
    assert.equal(job.attempts, 2, 'the 429 cost the delivery job one attempt');
    await sleep(500);
    assert.equal(importsOf(erin).length, 2);
    assert.equal(new Set(imports.map((i) => i.body.thumbprint)).size, 2);
    assert.ok(posts[1]!.at - posts[0]!.at >= 2000, `retried ${posts[1]!.at - posts[0]!.at} ms after the 429, not after Retry-After`);
  });

  test('a token revoked early is refused with 401 and fetched again once; fresh tokens are cached', async () => {
    const graphTokens = () => cloud.tokensIssued.filter((t) => t.scope === cloud.graphScope).length;
    assert.equal(graphTokens(), 1, 'one Graph token served every call so far');
    cloud.expireTokens();
    const frank = user('frank');
    cloud.devices.push(device('dev-frank-1', frank));
    await until("frank's imports", () => importsOf(frank).length === 2, 10_000);
    assert.equal(graphTokens(), 2);
    assert.ok(cloud.tokensIssued.every((t) => t.auth === 'secret'));
  });

  test("Intune's revocation requests: revoked here and answered 0, unknown serials 4004, garbage 4002, already revoked 0", async () => {
    const carol = [...cloud.users.values()].find((u) => u.userPrincipalName.startsWith('carol'))!.id;
    const target = importsOf(carol).find((i) => i.body.intendedPurpose === 'smimeSigning')!.certificate;
    // bob's signing certificate was revoked on unenroll (and its import withdrawn).
    const revokedBefore = (await gw.db('certificates').where({ device_id: 'dev-bob-1', template: 'smime-signing', status: 'revoked' }).first()) as {
      serial: string;
    };
    // A certificate of the same CA that Intune had no hand in: an administrator's client certificate.
    const foreign = await gw.issuance.issuer.issue({
      template: 'tls-client',
      data: {},
      names: { subject: [{ type: 'CN', value: 'ops-admin' }], subjectAltNames: [] },
      actor: 'admin',
    });
    const uploads = cloud.revocationUploads.length;
    const requests = [
      cloud.queueRevocation(target.serialNumber), // upper-case, as Intune echoes it
      cloud.queueRevocation('7f'.repeat(16)),
      cloud.queueRevocation('not-a-serial'),
      cloud.queueRevocation(revokedBefore.serial),
      cloud.queueRevocation(foreign.record.serial),
    ];
    const results = await until(
      'the uploaded results',
      () => cloud.revocationUploads.slice(uploads).flat().length >= 5 && cloud.revocationUploads.slice(uploads).flat(),
      5000,
    );
    const codeOf = (ctx: string) => results.find((r) => r.requestContext === ctx);
    assert.deepEqual(codeOf(requests[0]!.requestContext), { requestContext: requests[0]!.requestContext, succeeded: true, errorCode: 0, errorMessage: '' });
    assert.equal(codeOf(requests[1]!.requestContext)?.errorCode, 4004);
    assert.equal(codeOf(requests[1]!.requestContext)?.succeeded, false);
    assert.equal(codeOf(requests[2]!.requestContext)?.errorCode, 4002);
    assert.equal(codeOf(requests[3]!.requestContext)?.errorCode, 0);
    assert.equal(codeOf(requests[4]!.requestContext)?.errorCode, 4004, "not issued through the connector: not Intune's to revoke");
    assert.equal((await certRow(foreign.record.serial))?.status, 'valid');
    const row = await certRow(serialOf(target));
    assert.equal(row?.status, 'revoked');
    assert.equal(row?.revocation_reason, 'unspecified');
    const calls = cloud.requests.filter((r) => r.server === 'services' && r.path.includes('/CertificateAuthorityRequests/'));
    assert.ok(calls.every((c) => c.headers['api-version'] === '5019-05-05' && /^[0-9a-f-]{36}$/.test(String(c.headers['client-request-id']))));
    assert.ok(cloud.tokensIssued.some((t) => t.scope === 'https://api.manage.microsoft.com//.default'));
  });

  test('a listing that comes back empty unenrolls nobody: the mass-unenrollment brake holds it and says why', async () => {
    const unenrolled = async () => Number((await gw.db('mdm_events').where({ connector_id: 'intune', type: 'unenrolled' }).count({ n: '*' }).first())?.n);
    const before = await unenrolled();
    const known = Number((await gw.db('intune_devices').where({ connector_id: 'intune' }).count({ n: '*' }).first())?.n);
    assert.ok(known > 2, `enough devices for the brake (${known})`);
    const held = () =>
      gw
        .logs()
        .split('\n')
        .filter((l) => l.includes('none was unenrolled') && l.includes('"level":50')).length;
    const heldBefore = held();
    const saved = cloud.devices.splice(0);
    try {
      await until('two held listings', () => held() >= heldBefore + 2, 5000);
    } finally {
      cloud.devices.push(...saved);
    }
    assert.equal(await unenrolled(), before, 'no device was unenrolled');
    assert.equal(
      Number((await gw.db('intune_devices').where({ connector_id: 'intune' }).count({ n: '*' }).first())?.n),
      known,
      'and every device is still known',
    );
    assert.match(gw.logs(), new RegExp(`${known} of ${known} known devices left in one listing.*raise polling\\.unenrollGuard\\.maxFraction`));
  });

  test('service endpoints are discovered once, and again after the service moved (connection refused)', async () => {
    const discoveries = () =>
      cloud.requests.filter((r) => r.path.startsWith('/v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints')).length;
    assert.equal(discoveries(), 1, 'many revocation rounds, one discovery');
    await cloud.moveServices();
    const uploads = cloud.revocationUploads.length;
    const r = cloud.queueRevocation('6e'.repeat(16));
    await until(
      'a result from the moved service',
      () =>
        cloud.revocationUploads
          .slice(uploads)
          .flat()
          .some((x) => x.requestContext === r.requestContext),
      5000,
    );
    assert.equal(discoveries(), 2);
  });

  test('check, withdraw and a client-certificate assertion, on a connector built from its module', async () => {
    writeFileSync(join(dir, 'client.pem'), tls.client.cert);
    writeFileSync(join(dir, 'client-key.pem'), tls.client.key);
    const raw = { ...fileSettings, clientSecret: undefined, clientCertificate: { cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') } };
    const settings = intuneSchema.parse(raw);
    const ctx = { id: 'intune-cert', log: createLogger({ level: 'silent' }), db: gw.db, pki: { revoker: gw.issuance.revoker } } as unknown as ConnectorContext;
    const connector: Connector = intune.create(settings, ctx);
    const report = await intune.check(settings, ctx.id);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['token', 'managedDevices', 'scepValidation endpoint', 'pkiConnector endpoint'],
    );
    assert.equal(cloud.tokensIssued.at(-1)?.auth, 'assertion');

    const frank = [...cloud.users.values()].find((u) => u.userPrincipalName.startsWith('frank'))!.id;
    // A receipt as deliveries recorded them before the import ids were kept.
    const reference = importsOf(frank)
      .map((i) => `${frank}-${i.body.thumbprint}`)
      .join(',');
    await connector.withdraw!({ connectorId: 'intune-cert', reference, deliveredAt: new Date() });
    assert.deepEqual(importsOf(frank), []);
    await connector.withdraw!({ connectorId: 'intune-cert', reference, deliveredAt: new Date() }); // already gone: fine

    const failed = await intune.check(intuneSchema.parse({ ...raw, clientCertificate: undefined, clientSecret: 'wrong-secret' }), ctx.id);
    assert.equal(failed.ok, false);
    assert.match(failed.checks[0]!.detail ?? '', /answered 401 \(invalid_client: AADSTS7000215/);
  });

  test('tokens are cached until shortly before expires_in, then fetched anew', async () => {
    const short = await startIntuneCloud({ tls: tls.server, tenant: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, tokenLifetimeS: 2 });
    try {
      const http = axios.create({ httpsAgent: new Agent({ ca: tls.caPem }), validateStatus: () => true, proxy: false });
      const client = new OAuthClient({
        tokenUrl: `${short.loginHost}/${TENANT}/oauth2/v2.0/token`,
        clientId: CLIENT_ID,
        credential: { secret: CLIENT_SECRET },
        http,
      });
      const [a, b] = await Promise.all([client.token(short.graphScope), client.token(short.graphScope)]);
      assert.equal(a, b);
      assert.equal(short.tokensIssued.length, 1, 'concurrent callers share one request');
      await sleep(1000);
      assert.equal(await client.token(short.graphScope), a, 'still fresh');
      await sleep(900); // within a tenth of the lifetime of expiry
      const c = await client.token(short.graphScope);
      assert.notEqual(c, a);
      assert.equal(short.tokensIssued.length, 2);
      await client.token(short.intuneScope);
      assert.equal(short.tokensIssued.length, 3, 'tokens are per scope');
    } finally {
      await short.stop();
    }
  });

  test('secrets stay out of the logs', () => {
    const logs = gw.logs();
    assert.ok(logs.length > 0);
    for (const secret of [
      CLIENT_SECRET,
      P12_PASSWORD,
      ...cloud.tokensIssued.map((t) => t.token),
      ...cloud.imports.map((i) => i.body.encryptedPfxBlob!.slice(0, 40)),
    ]) {
      assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 6)}…) was logged`);
    }
  });
});
