/**
 * The MobileIron connector end to end: a real Mosquitto broker that requires
 * client certificates stands in for the Event Notification Service, events
 * are published to it as Core would, credentials are uploaded to a Core API
 * stand-in that opens every PKCS#12 with openssl, revocation is checked with
 * `openssl ocsp`, and Core's Centralized SCEP enrollment is played by
 * scepclient on the static-challenge profile the example configuration shows.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import pino from 'pino';
import { parseYaml } from '../../src/config/load.js';
import type { ConnectorContext } from '../../src/connectors/module.js';
import { CoreApi } from '../../connectors/mobileiron/core-api.js';
import { mobileIron } from '../../connectors/mobileiron/index.js';
import { EnsSubscriber, loadBrokerTls } from '../../connectors/mobileiron/ens-subscriber.js';
import { mobileIronSchema, type MobileIronSettings } from '../../connectors/mobileiron/schema.js';
import { REPO } from '../helpers/cli.js';
import { connectorYaml, ensBroker, mobileIronSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCoreApi, type CoreApiHandle } from '../helpers/mobileiron-standins.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { issueTestClient, issueTestServer, makeTestCa } from '../helpers/ws1-standins.js';

const P12_PASSWORD = 'core-profile-password';
const API_PASSWORD = 'core-api-password-123';
const KEY_PASSPHRASE = 'ens-key-passphrase-456';
const SCEP_CHALLENGE = 'core-centralized-scep-challenge';
const SPACE = 7;
const SETTINGS = { signing: 'credgate S/MIME signing', encryption: 'credgate S/MIME encryption' };

const device = (n: number, user: { userId: string; userUuid: string }) => ({
  deviceGuid: `9e0c0000-0000-4000-8000-00000000000${n}`,
  identifier: `device-${n}`,
  iosUdid: `00008030-00000000000000${n}`,
  ...user,
  status: 'ACTIVE',
  compliant: true,
  quarantined: false,
  compromised: false,
  serialNumber: `SERIAL0${n}`,
  macAddress: '000000000000',
  manufacturer: 'Apple',
  model: 'iPhone',
  os: 'iOS',
  osVersion: '17.5',
  registrationTime: 1717171717000,
  lastCheckInTime: 1717171717000,
});
const JDOE = { userId: 'jdoe', userUuid: 'a1a1a1a1-0000-4000-8000-00000000000a' };
const ASMITH = { userId: 'asmith', userUuid: 'b2b2b2b2-0000-4000-8000-00000000000b' };

describe('MobileIron connector', () => {
  let dir: string;
  let broker: MosquittoHandle;
  let core: CoreApiHandle;
  let gw: TestGateway;
  let publisher: mqtt.MqttClient;
  let files: Record<'ca' | 'serverCert' | 'serverKey' | 'ensCert' | 'ensKey' | 'coreCert' | 'coreKey' | 'strangerCert' | 'strangerKey', string>;
  let settingsText: string;
  let base: string;

  const publish = (topic: string, body: unknown) => publisher.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
  const uploadsOf = (userId: string) => core.uploads.filter((u) => u.userId === userId);
  /** The leaf certificate in an upload, as `openssl x509 -text` prints it, and its file. */
  const leaf = (p12: Buffer, name: string) => {
    const p12File = join(dir, `${name}.p12`);
    writeFileSync(p12File, p12);
    const certFile = join(dir, `${name}.pem`);
    writeFileSync(certFile, openssl(['pkcs12', '-in', p12File, '-passin', `pass:${P12_PASSWORD}`, '-clcerts', '-nokeys']));
    return { certFile, text: openssl(['x509', '-in', certFile, '-noout', '-text', '-serial']) };
  };

  before(async () => {
    dir = tempDir();
    const ca = await makeTestCa('ENS Test CA');
    const stranger = await makeTestCa('Stranger CA');
    const [server, ens, coreClient, strangerClient] = await Promise.all([
      issueTestServer(ca),
      issueTestClient(ca, 'credgate-ens'),
      issueTestClient(ca, 'core-publisher'),
      issueTestClient(stranger, 'not-core'),
    ]);
    const w = (name: string, data: string) => {
      writeFileSync(join(dir, name), data, { mode: 0o600 });
      return join(dir, name);
    };
    files = {
      ca: w('ca.pem', ca.pem),
      serverCert: w('server.pem', server.cert),
      serverKey: w('server-key.pem', server.key),
      ensCert: w('ens.pem', ens.cert),
      // The gateway's key is encrypted: the passphrase comes from the environment.
      ensKey: w(
        'ens-key.pem',
        createPrivateKey(ens.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: KEY_PASSPHRASE }).toString(),
      ),
      coreCert: w('core.pem', coreClient.cert),
      coreKey: w('core-key.pem', coreClient.key),
      strangerCert: w('stranger.pem', strangerClient.cert),
      strangerKey: w('stranger-key.pem', strangerClient.key),
    };
    broker = await startMosquitto(dir, { ca: files.ca, cert: files.serverCert, key: files.serverKey });
    core = await startCoreApi({
      cert: server.cert,
      key: server.key,
      username: 'credgate-api',
      password: API_PASSWORD,
      adminDeviceSpaceId: SPACE,
      ceSettingNames: Object.values(SETTINGS),
    });
    core.addDevice(device(1, JDOE).deviceGuid, 'jdoe@example.com');
    core.addDevice(device(2, ASMITH).deviceGuid, 'asmith@example.com');
    for (const n of [3, 4, 5, 6]) core.addDevice(device(n, JDOE).deviceGuid, 'jdoe@example.com');

    const settings = mobileIronSettings({
      pkcs12: { format: 'apple', password: '${MI_TEST_P12_PASSWORD}' },
      broker: ensBroker(broker.url, files.ca, { cert: files.ensCert, key: files.ensKey, passphrase: '${MI_TEST_KEY_PASSPHRASE}' }),
      coreApi: {
        url: core.url,
        basic: { username: 'credgate-api', password: '${MI_TEST_API_PASSWORD}' },
        adminDeviceSpaceId: SPACE,
        serverCa: files.ca,
        timeout: '5s',
        upload: { ceSettingNames: SETTINGS },
        userLookup: {},
      },
      scep: { profile: 'mobileiron' },
    });
    writeConnectorFile(join(dir, 'connectors'), 'mi', settings);
    settingsText = connectorYaml(settings);
    process.env.MI_TEST_P12_PASSWORD = P12_PASSWORD;
    process.env.MI_TEST_API_PASSWORD = API_PASSWORD;
    process.env.MI_TEST_KEY_PASSPHRASE = KEY_PASSPHRASE;

    // The SCEP profile exactly as the example connector file tells operators to add it to credgate.yaml.
    const example = readFileSync(join(REPO, 'config/connectors/examples/mobileiron.yaml'), 'utf8');
    const block = /# --- credgate\.yaml: scep ---\n([\s\S]*?)# --- end ---/.exec(example)![1]!;
    const scep = parse(block.replace(/^# ?/gm, '').replaceAll('${MI_SCEP_CHALLENGE}', SCEP_CHALLENGE)) as { scep: { profiles: Record<string, unknown> } };

    gw = await startTestGateway({
      dir,
      overrides: {
        connectors: { dir: join(dir, 'connectors') },
        scep: { profiles: { default: {}, ...scep.scep.profiles } },
        jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '400ms' } },
      },
    });
    base = `https://localhost:${gw.port}`;
    publisher = await mqtt.connectAsync(broker.url, {
      ca: readFileSync(files.ca),
      cert: readFileSync(files.coreCert),
      key: readFileSync(files.coreKey),
      clientId: 'core-ens-publisher',
      reconnectPeriod: 200,
    });
  });
  after(async () => {
    await publisher?.endAsync(true);
    await gw?.stop();
    await core?.stop();
    await broker?.stop();
  });

  test('the broker refuses clients without a certificate from its CA; the gateway connects with its own and subscribes', async () => {
    const refused = async (opts: mqtt.IClientOptions) => {
      const err = await mqtt.connectAsync(broker.url, { ca: readFileSync(files.ca), reconnectPeriod: 0, connectTimeout: 3000, ...opts }).then(
        async (c) => {
          await c.endAsync(true);
          return undefined;
        },
        (e: unknown) => e as Error,
      );
      assert.ok(err, 'the connection was accepted');
      return err.message;
    };
    assert.match(await refused({}), /certificate|alert|handshake|ECONNRESET|closed/i, 'no client certificate');
    assert.ok(await refused({ cert: readFileSync(files.strangerCert), key: readFileSync(files.strangerKey) }), 'a certificate from another CA');
    await until('the gateway subscription', () => /"msg":"subscribed"/.test(gw.logs()), 10_000);
    const connected = gw
      .logs()
      .split('\n')
      .find((l) => l.includes('connected to the Event Notification Service'))!;
    const clientId = JSON.parse(connected).clientId as string;
    assert.match(clientId, /^credgate-test-[0-9a-f]{12}$/);
    assert.match(broker.log(), new RegExp(`New client connected .* as ${clientId} .*u'credgate-ens'`), 'the broker took the certificate CN as the user');
  });

  test("/readyz has the connector's check: subscribed, with QoS 1 granted on every topic", async () => {
    const r = await curl(`${base}/readyz`, ['--cacert', join(dir, 'certs/root-ca.pem')]);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { checks: Record<string, string> }).checks['connector:mi'], 'subscribed');
    const subscribed = JSON.parse(
      gw
        .logs()
        .split('\n')
        .find((l) => l.includes('"msg":"subscribed"'))!,
    ) as { topics: string[]; qos: number };
    assert.deepEqual([subscribed.topics, subscribed.qos], [['device/enrolled', 'device/retired', 'device/wiped'], 1]);
  });

  test('device/enrolled with two devices: one upload per purpose per user, each PKCS#12 opens and carries the user email', async () => {
    await publish('device/enrolled', { timestamp: 1717171717000, eventType: 'device.enrolled', devices: [device(1, JDOE), device(2, ASMITH)] });
    await until('four uploads', () => core.uploads.length >= 4, 8000);
    for (const [user, email] of [
      ['jdoe', 'jdoe@example.com'],
      ['asmith', 'asmith@example.com'],
    ] as const) {
      const ups = uploadsOf(user);
      assert.deepEqual(ups.map((u) => u.ceSettingName).sort(), [SETTINGS.signing, SETTINGS.encryption].sort(), `${user}: one per purpose`);
      for (const u of ups) {
        assert.equal(u.password, P12_PASSWORD);
        assert.equal(u.pem.match(/BEGIN PRIVATE KEY/g)?.length, 1, 'exactly one key (checked by the stand-in too)');
        const { text } = leaf(u.pkcs12, `${user}-${u.ceSettingName.split(' ').pop()}`);
        assert.match(text, new RegExp(`email:${email.replace('.', '\\.')}`));
        assert.match(text, /E-mail Protection/);
      }
    }
    const uploadCall = core.requests.find((r) => r.method === 'POST')!;
    assert.equal(uploadCall.path, '/api/v2/usercertificates/upload');
    assert.equal(uploadCall.query.get('adminDeviceSpaceId'), String(SPACE));
    assert.ok(
      core.requests.some((r) => r.path === '/api/v2/devices' && r.query.get('query') === `common.uuid="${device(1, JDOE).deviceGuid}"`),
      'emails came from the device search',
    );
  });

  test('the same message delivered again changes nothing', async () => {
    const before = core.uploads.length;
    await publish('device/enrolled', { timestamp: 1717171717000, eventType: 'device.enrolled', devices: [device(1, JDOE), device(2, ASMITH)] });
    await until('the duplicate to be seen', () => (gw.logs().match(/ENS event already received/g)?.length ?? 0) >= 2, 5000);
    await sleep(300);
    assert.equal(core.uploads.length, before);
  });

  test('malformed and invalid messages are logged with the reason and ignored; the next message is handled', async () => {
    const events = async () => Number((await gw.db('mdm_events').count({ n: '*' }).first())?.n);
    const count = await events();
    await publish('device/enrolled', '{"timestamp": 1, "devices": [');
    await publish('device/enrolled', { timestamp: 1, devices: [{ userId: 'x' }] });
    await publish('device/enrolled', Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('latin1'));
    await until('three ignored messages', () => (gw.logs().match(/ENS message ignored/g)?.length ?? 0) >= 3, 5000);
    const reasons = gw
      .logs()
      .split('\n')
      .filter((l) => l.includes('ENS message ignored'))
      .map((l) => JSON.parse(l).reason as string);
    assert.match(reasons[0]!, /malformed JSON/);
    assert.match(reasons[1]!, /devices\.0\.deviceGuid/);
    assert.equal(await events(), count, 'nothing stored');
    await publish('device/enrolled', { timestamp: 1717171800000, eventType: 'device.enrolled', devices: [device(3, JDOE)] });
    await until('the upload after the bad messages', () => uploadsOf('jdoe').length >= 4, 8000);
  });

  test('Core answers 503 twice, then 200: each credential arrives once', async () => {
    const before = uploadsOf('jdoe').length;
    core.failNext(2, 503);
    await publish('device/enrolled', { timestamp: 1717171900000, eventType: 'device.enrolled', devices: [device(4, JDOE)] });
    await until('the uploads after the retries', () => uploadsOf('jdoe').length >= before + 2, 10_000);
    await sleep(500);
    const mine = uploadsOf('jdoe').slice(before);
    assert.deepEqual(mine.map((u) => u.ceSettingName).sort(), [SETTINGS.signing, SETTINGS.encryption].sort());
    const delivery = await gw
      .db('deliveries')
      .where({ device_id: device(4, JDOE).deviceGuid })
      .first();
    assert.equal(delivery.status, 'delivered');
  });

  test('a 4xx from Core ends the delivery as failed with the answer kept', async () => {
    core.failNext(1, 422);
    const guid = device(5, JDOE).deviceGuid;
    const before = core.uploads.length;
    await publish('device/enrolled', { timestamp: 1717172000000, eventType: 'device.enrolled', devices: [device(5, JDOE)] });
    const delivery = await until(
      'the failed delivery',
      async () => (await gw.db('deliveries').where({ device_id: guid, status: 'failed' }).first()) as { last_error?: string } | undefined,
      8000,
    );
    assert.ok(delivery);
    const job = await gw.db('jobs').where({ type: 'connector.deliver', status: 'dead' }).orderBy('id', 'desc').first();
    assert.match(job.last_error, /Core answered 422/);
    assert.equal(core.uploads.length, before);
  });

  test('upload path and field names follow the configuration', async () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const fields = { file: 'certificateFile', password: 'pfxPassword', userId: 'principal', ceSettingName: 'setting' };
    const other = await startCoreApi({
      cert: readFileSync(files.serverCert, 'utf8'),
      key: readFileSync(files.serverKey, 'utf8'),
      username: 'credgate-api',
      password: API_PASSWORD,
      adminDeviceSpaceId: 3,
      ceSettingNames: ['Signing'],
      uploadPath: '/mifs/api/v2/certs',
      fields,
    });
    try {
      const api = new CoreApi('mi', {
        ...settings.coreApi,
        url: other.url,
        adminDeviceSpaceId: 3,
        upload: { ...settings.coreApi.upload, path: '/mifs/api/v2/certs', fields, ceSettingNames: { signing: 'Signing' } },
      });
      const p12 = uploadsOf('jdoe').find((u) => u.ceSettingName === SETTINGS.signing)!.pkcs12;
      const certificate = new X509Certificate(readFileSync(leaf(p12, 'fields').certFile)).raw;
      const credential = { serialNumber: '01', purpose: 'signing' as const, pkcs12: p12, certificate, password: P12_PASSWORD, archived: false };
      const receipt = await api.upload({
        deliveryId: 1,
        user: { id: 'u', vendorId: 'jdoe' },
        credentials: [credential, { ...credential, serialNumber: '02', archived: true }],
      });
      assert.equal(receipt.reference, 'jdoe/Signing:01');
      assert.deepEqual(
        other.uploads.map((u) => [u.userId, u.ceSettingName]),
        [['jdoe', 'Signing']],
        'the archived credential is not sent',
      );
    } finally {
      await other.stop();
    }
  });

  test('a Core that asks multipart calls for JSESSIONID and CSRF_NONCE: each upload carries the cookie and nonce of a GET; a session Core dropped is opened again', async () => {
    const guid = (n: number) => `9e0c0000-0000-4000-8000-0000000000a${n}`;
    for (const n of [1, 2]) core.addDevice(guid(n), 'jdoe@example.com');
    const pings = () => core.requests.filter((r) => r.method === 'GET' && r.path === '/api/v2/ping').length;
    core.requireSession({ nonceIn: 'header' });
    try {
      const before = core.uploads.length;
      const pingsBefore = pings();
      await publish('device/enrolled', { timestamp: 1717200000000, eventType: 'device.enrolled', devices: [{ ...device(9, JDOE), deviceGuid: guid(1) }] });
      await until('the uploads on a session', () => core.uploads.length >= before + 2, 10_000);
      const first = core.uploads.slice(before);
      assert.ok(
        first.every((u) => u.session),
        'each upload carried a session Core opened',
      );
      assert.ok(pings() > pingsBefore, 'a GET opened it');

      core.expireSessions();
      const refused = core.sessionRefusals();
      await publish('device/enrolled', { timestamp: 1717200100000, eventType: 'device.enrolled', devices: [{ ...device(9, JDOE), deviceGuid: guid(2) }] });
      await until('the uploads on a new session', () => core.uploads.length >= before + 4, 10_000);
      assert.ok(core.sessionRefusals() > refused, 'Core refused the dropped session');
      const second = core.uploads.slice(before + 2);
      assert.ok(
        second.every((u) => u.session && u.session !== first[0]!.session),
        'a new session',
      );
      // The delivery is marked once Core's answer to the last upload is in, a moment after the stand-in counted it.
      await until(
        'the delivery recorded',
        async () =>
          (
            await gw
              .db('deliveries')
              .where({ device_id: guid(2) })
              .first()
          )?.status === 'delivered',
        10_000,
      );
      for (const secret of core.sessionSecrets()) assert.ok(!gw.logs().includes(secret), 'no session cookie or nonce in the log');
    } finally {
      core.requireSession(undefined);
    }
  });

  test('the nonce may come as a cookie and change with every answer; connectors test names the session Core opens, never its values', async () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const other = await startCoreApi({
      cert: readFileSync(files.serverCert, 'utf8'),
      key: readFileSync(files.serverKey, 'utf8'),
      username: 'credgate-api',
      password: API_PASSWORD,
      adminDeviceSpaceId: SPACE,
      ceSettingNames: Object.values(SETTINGS),
      multipartSession: { nonceIn: 'cookie', rotate: true },
    });
    try {
      const api = new CoreApi('mi', { ...settings.coreApi, url: other.url });
      const ups = uploadsOf('jdoe').slice(0, 2);
      const credentials = ups.map((u, i) => ({
        serialNumber: `0${i + 1}`,
        purpose: u.ceSettingName === SETTINGS.signing ? ('signing' as const) : ('encryption' as const),
        pkcs12: u.pkcs12,
        certificate: new X509Certificate(readFileSync(leaf(u.pkcs12, `rolling-${i}`).certFile)).raw,
        password: P12_PASSWORD,
        archived: false,
      }));
      await api.upload({ deliveryId: 1, user: { id: 'u', vendorId: 'jdoe' }, credentials });
      assert.equal(other.uploads.length, 2);
      assert.equal(other.sessionRefusals(), 0, 'the second upload took the nonce the first answer rolled to');
      assert.equal(new Set(other.uploads.map((u) => u.session)).size, 1, 'one session for both');
      assert.equal(other.requests.filter((r) => r.method === 'GET').length, 1);

      const check = await mobileIron.check({ ...settings, coreApi: { ...settings.coreApi, url: other.url } }, 'mi-session');
      const detail = check.checks.find((c) => c.name === 'core-api')!.detail!;
      assert.equal(detail, '/api/v2/ping answered 200; Core opened a session for uploads (cookies JSESSIONID, CSRF_NONCE; nonce from the CSRF_NONCE cookie)');
      for (const secret of other.sessionSecrets()) assert.ok(!detail.includes(secret));
    } finally {
      await other.stop();
    }
  });

  test("the user lookup takes the search result that is the device itself, never another device's user", async () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const api = new CoreApi('mi', settings.coreApi);
    const [mine, other, unknown] = [device(7, JDOE).deviceGuid, device(8, ASMITH).deviceGuid, '9e0c0000-0000-4000-8000-0000000000ff'];
    core.addDevice(mine, 'jdoe@example.com');
    core.addDevice(other, 'asmith@example.com');
    core.alsoMatch(mine, [other]);
    core.alsoMatch(unknown, [other]);
    assert.deepEqual(await api.lookupUser(mine), { email: 'jdoe@example.com' }, 'the other device is listed first');
    assert.deepEqual(await api.lookupUser(unknown), {}, 'only another device found: no email');
    const call = core.requests.filter((r) => r.path === '/api/v2/devices').at(-1)!;
    assert.equal(call.query.get('fields'), 'common.uuid,user.email_address');
  });

  test('device/retired revokes the device signing certificate (OCSP says revoked), the encryption one stays good', async () => {
    const signing = uploadsOf('asmith').find((u) => u.ceSettingName === SETTINGS.signing)!;
    const encryption = uploadsOf('asmith').find((u) => u.ceSettingName === SETTINGS.encryption)!;
    const issuing = join(dir, 'certs/issuing-ca.pem');
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, readFileSync(join(dir, 'certs/root-ca.pem'), 'utf8') + readFileSync(issuing, 'utf8'));
    const ocsp = async (certFile: string, name: string) => {
      const [req, resp] = [join(dir, `${name}.req`), join(dir, `${name}.resp`)];
      openssl(['ocsp', '-issuer', issuing, '-cert', certFile, '-reqout', req]);
      const r = await curl(`${base}/pki/ocsp`, [
        '--cacert',
        join(dir, 'certs/root-ca.pem'),
        '-H',
        'Content-Type: application/ocsp-request',
        '--data-binary',
        `@${req}`,
        '-o',
        resp,
      ]);
      assert.equal(r.status, 200);
      return openssl(['ocsp', '-respin', resp, '-CAfile', chain, '-issuer', issuing, '-cert', certFile, '-no_nonce']);
    };
    const sign = leaf(signing.pkcs12, 'retire-sign').certFile;
    const enc = leaf(encryption.pkcs12, 'retire-enc').certFile;
    assert.match(await ocsp(sign, 'before'), /: good/);
    await publish('device/retired', { timestamp: 1717180000000, eventType: 'device.retired', devices: [device(2, ASMITH)] });
    await until('the revocation', async () => /: revoked/.test(await ocsp(sign, 'after')), 8000, 200);
    assert.match(await ocsp(sign, 'reason'), /Reason: cessationOfOperation/);
    assert.match(await ocsp(enc, 'enc'), /: good/);
  });

  test('while the broker is down the gateway retries with growing, capped, jittered delays; once it is back, later messages arrive', async () => {
    const connects = () => gw.logs().match(/connected to the Event Notification Service/g)?.length ?? 0;
    const retries = () =>
      gw
        .logs()
        .split('\n')
        .filter((l) => l.includes('ENS connection lost; reconnecting'))
        .map((l) => JSON.parse(l) as { attempt: number; retryInMs: number; reason: string });
    const before = connects();
    const seen = retries().length;
    await broker.stop();
    // The broker comes back whatever the assertions say, so later tests find it running.
    try {
      // A slow poll may see more than five attempts; the first five are the ones to check.
      const attempts = await until('five reconnect attempts', () => (retries().length >= seen + 5 ? retries().slice(seen, seen + 5) : undefined), 15_000);
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1, 2, 3, 4, 5],
      );
      // reconnect: { initial: 200ms, max: 1s }: attempt n waits at most min(1000, 200 * 2^(n-1)).
      for (const [i, a] of attempts.entries()) assert.ok(a.retryInMs >= 0 && a.retryInMs <= Math.min(1000, 200 * 2 ** i), JSON.stringify(a));
      assert.match(attempts[1]!.reason, /ECONNREFUSED/);
    } finally {
      await broker.start();
    }
    await until('the gateway to reconnect', () => connects() > before, 10_000);
    await until('the publisher to reconnect', () => publisher.connected, 5000);
    await until('the new subscription', () => (gw.logs().match(/"msg":"subscribed"/g)?.length ?? 0) >= 2, 5000);
    const uploads = uploadsOf('jdoe').length;
    await publish('device/enrolled', { timestamp: 1717190000000, eventType: 'device.enrolled', devices: [device(6, JDOE)] });
    await until('the upload after the restart', () => uploadsOf('jdoe').length >= uploads + 2, 8000);
  });

  test('with a fixed clientId the persistent session outlives a restart: what Core published meanwhile arrives; a random id loses it', {
    timeout: 30_000,
  }, async () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const running = new Set<() => Promise<void>>();
    const run = async (broker: MobileIronSettings['broker'], seen: string[]) => {
      const sub = new EnsSubscriber(broker, loadBrokerTls(broker), async (_topic, payload) => void seen.push(payload.toString()), pino({ level: 'silent' }));
      const abort = new AbortController();
      const done = sub.start(abort.signal);
      const stop = async () => {
        running.delete(stop);
        abort.abort();
        await done;
      };
      running.add(stop);
      await until('the test subscriber', () => sub.connected, 5000);
      await sleep(300); // the SUBACK
      return { id: sub.clientId, stop };
    };
    try {
      const fixed = { ...settings.broker, topics: ['test/restart'], clientId: 'credgate-test-instance-1' };
      const random = { ...settings.broker, topics: ['test/restart'] };
      const first = await run(fixed, []);
      const firstRandom = await run(random, []);
      assert.equal(first.id, 'credgate-test-instance-1');
      await first.stop();
      await firstRandom.stop();
      await publish('test/restart', 'published while the gateway was down');
      const afterFixed: string[] = [];
      const afterRandom: string[] = [];
      await run(fixed, afterFixed);
      const secondRandom = await run(random, afterRandom);
      assert.notEqual(secondRandom.id, firstRandom.id, 'a new process, a new random id');
      await until('the queued message', () => afterFixed.length > 0, 5000);
      assert.deepEqual(afterFixed, ['published while the gateway was down']);
      await sleep(300);
      assert.deepEqual(afterRandom, [], 'a random id starts a new session: the message is lost to it');
    } finally {
      for (const stop of [...running]) await stop();
    }
  });

  test('a message whose handling fails is not acknowledged and arrives again', async () => {
    // The subscriber on its own, so its handler can fail: the broker must redeliver on the resumed session.
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const seen: string[] = [];
    const broker1 = { ...settings.broker, topics: ['test/redelivery'] };
    const sub = new EnsSubscriber(
      broker1,
      loadBrokerTls(broker1),
      async (_topic, payload) => {
        seen.push(payload.toString());
        if (seen.length === 1) throw new Error('database unavailable');
      },
      pino({ level: 'silent' }),
    );
    const stop = new AbortController();
    const running = sub.start(stop.signal);
    try {
      await until('the test subscriber', () => sub.connected, 5000);
      await sleep(200);
      await publish('test/redelivery', 'payload-1');
      await until('the redelivery', () => seen.length >= 2, 8000);
      assert.deepEqual(seen.slice(0, 2), ['payload-1', 'payload-1']);
      await sleep(500);
      assert.equal(seen.length, 2, 'acknowledged after the handler succeeded');
    } finally {
      stop.abort();
      await running;
    }
  });

  test('check(): broker and Core API reachable; a wrong certificate or password is named', async () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    // check() needs no part of the gateway.
    const ok = await mobileIron.check(settings, 'mi-check');
    assert.deepEqual(
      ok.checks.map((c) => [c.name, c.ok]),
      [
        ['broker', true],
        ['core-api', true],
      ],
    );
    assert.equal(ok.ok, true);
    assert.match(
      ok.checks[0]!.detail!,
      /subscribed to device\/enrolled, device\/retired, device\/wiped at QoS 1; the broker kept the session across a reconnect$/,
    );
    const bad = await mobileIron.check(
      {
        ...settings,
        broker: { ...settings.broker, clientCertificate: { cert: files.strangerCert, key: files.strangerKey } },
        coreApi: { ...settings.coreApi, basic: { username: 'credgate-api', password: 'wrong-password' } },
      },
      'mi-check',
    );
    assert.equal(bad.ok, false);
    assert.deepEqual(
      bad.checks.map((c) => [c.name, c.ok]),
      [
        ['broker', false],
        ['core-api', false],
      ],
    );
    assert.match(bad.checks[0]!.detail!, /unknown ca/, 'the broker does not know the certificate');
    assert.match(bad.checks[1]!.detail!, /credentials rejected \(401\)/);
  });

  test('unreadable TLS material is named when the connector is built, before anything connects', () => {
    const settings = parseYaml(settingsText, 'mi.yaml', mobileIronSchema) as MobileIronSettings;
    const ctx = { id: 'mi-bad', log: pino({ level: 'silent' }) } as unknown as ConnectorContext;
    const build = (clientCertificate: MobileIronSettings['broker']['clientCertificate']) => () =>
      mobileIron.create({ ...settings, broker: { ...settings.broker, clientCertificate } }, ctx);
    const cc = settings.broker.clientCertificate;
    assert.throws(build({ ...cc, passphrase: 'not-the-passphrase' }), /broker\.clientCertificate\.key: .* passphrase is wrong or missing/);
    assert.throws(build({ cert: cc.cert, key: cc.key }), /passphrase is wrong or missing/);
    assert.throws(build({ cert: files.strangerCert, key: cc.key, passphrase: KEY_PASSPHRASE }), /is not the key of/);
    assert.throws(build({ ...cc, cert: join(dir, 'missing.pem') }), /broker\.clientCertificate\.cert: cannot read .*missing\.pem \(ENOENT\)/);
  });

  test('start-up stops when scep.profile names no SCEP profile, or one without a static challenge', async () => {
    const start = (profiles: Record<string, unknown>) =>
      startTestGateway({ dir: tempDir(), overrides: { connectors: { dir: join(dir, 'connectors') }, scep: { profiles: { default: {}, ...profiles } } } });
    await assert.rejects(start({}), /mi\.yaml scep\.profile: no SCEP profile "mobileiron" in scep\.profiles \(configured: default\)/);
    await assert.rejects(
      start({ mobileiron: { challenge: 'dynamic' } }),
      /mi\.yaml scep\.profile: SCEP profile "mobileiron" has challenge "dynamic"; .* needs challenge: \{ static: \.\.\. \}/,
    );
  });

  test("Core's Centralized SCEP: scepclient enrolls with the static challenge; a wrong challenge fails", async () => {
    const root = join(dir, 'certs/root-ca.pem');
    const enroll = (name: string, challenge: string) => {
      mkdirSync(join(dir, 'scep', name), { recursive: true });
      const f = { key: join(dir, 'scep', name, 'key.pem'), cert: join(dir, 'scep', name, 'cert.pem') };
      return new Promise<{ code: number; output: string; cert: string }>((resolve) =>
        execFile(
          'scepclient',
          [
            '-server-url',
            `${base}/scep/mobileiron`,
            '-private-key',
            f.key,
            '-certificate',
            f.cert,
            '-cn',
            name,
            '-organization',
            'Example Bank',
            '-challenge',
            challenge,
          ],
          { env: { ...process.env, SSL_CERT_FILE: root }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, output: stdout + stderr, cert: f.cert }),
        ),
      );
    };
    const ok = await enroll('core-device-1', SCEP_CHALLENGE);
    assert.equal(ok.code, 0, ok.output);
    const cert = new X509Certificate(readFileSync(ok.cert));
    assert.match(cert.subject, /CN=core-device-1/, 'the subject Core asked for');
    assert.ok(cert.verify(new X509Certificate(readFileSync(join(dir, 'certs/issuing-ca.pem'))).publicKey));
    const bad = await enroll('core-device-2', `${SCEP_CHALLENGE}x`);
    assert.notEqual(bad.code, 0);
    assert.ok(!existsSync(bad.cert));
  });

  test('no secret reaches the log', () => {
    const logs = gw.logs();
    for (const secret of [API_PASSWORD, P12_PASSWORD, KEY_PASSPHRASE, SCEP_CHALLENGE, Buffer.from(`credgate-api:${API_PASSWORD}`).toString('base64')]) {
      assert.ok(!logs.includes(secret), `${secret.slice(0, 4)}… is in the log`);
    }
  });
});
