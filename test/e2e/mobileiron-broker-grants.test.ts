/**
 * What the Event Notification Service broker grants decides whether events
 * arrive at least once. A gateway runs three MobileIron connectors, each on
 * a broker that breaks that promise in its own way: Mosquitto with
 * `max_qos 0` (QoS 0 granted, as Ivanti's sample subscriber asks for), an
 * MQTT stand-in that refuses a topic (SUBACK 0x80), and Mosquitto without
 * persistence restarted under it (the persistent session lost). Each is
 * logged at error, fails its /readyz check (`connector:<id>`, the reason in
 * the log only) and fails `credgate connectors test` with the reason.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { freshCheckout, spawnCli } from '../helpers/cli.js';
import { ensBroker, mobileIronSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCoreApi, startEnsBroker, type CoreApiHandle, type EnsBrokerHandle } from '../helpers/mobileiron-standins.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { issueTestClient, issueTestServer, makeTestCa } from '../helpers/ws1-standins.js';

const ENV = { MI_GRANTS_P12_PASSWORD: 'grants-p12-password-1', MI_GRANTS_API_PASSWORD: 'grants-api-password-2' };
const TOPICS = ['device/enrolled', 'device/retired', 'device/wiped'];

type LogLine = { msg: string; connector?: string; check?: string; error?: string; topics?: string[]; granted?: string; clientId?: string; level: number };

describe('MobileIron: a broker that breaks at-least-once delivery is noticed', () => {
  let dir: string;
  let checkout: string;
  let files: Record<'ca' | 'cert' | 'key' | 'ensCert' | 'ensKey', string>;
  let qos0: MosquittoHandle;
  let lossy: MosquittoHandle;
  let refusing: EnsBrokerHandle;
  let core: CoreApiHandle;
  let gw: TestGateway;

  const logLines = (): LogLine[] =>
    gw
      .logs()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);
  const errorsOf = (connector: string, msg: string) => logLines().filter((l) => l.connector === connector && l.level >= 50 && l.msg.startsWith(msg));
  const readyz = async () => {
    const r = await curl(`https://localhost:${gw.port}/readyz`, ['--cacert', join(dir, 'certs/root-ca.pem')]);
    return { status: r.status, raw: r.body, checks: (JSON.parse(r.body) as { checks: Record<string, string> }).checks };
  };
  /** The readiness failure the gateway logged for a check: the reason the public answer leaves out. */
  const readinessReason = (check: string) =>
    logLines()
      .filter((l) => l.msg === 'readiness check failed' && l.check === check)
      .at(-1)?.error;
  const connectorTest = (id: string) =>
    new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawnCli(['connectors', 'test', id], { cwd: checkout, env: ENV });
      let stdout = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.once('close', (status) => resolve({ status, stdout }));
    });

  const connector = (brokerUrl: string) =>
    mobileIronSettings({
      pkcs12: { password: '${MI_GRANTS_P12_PASSWORD}' },
      broker: ensBroker(brokerUrl, files.ca, { cert: files.ensCert, key: files.ensKey }),
      coreApi: {
        url: core.url,
        basic: { username: 'credgate-api', password: '${MI_GRANTS_API_PASSWORD}' },
        serverCa: files.ca,
        timeout: '5s',
        upload: { ceSettingNames: { signing: 'Signing', encryption: 'Encryption' } },
      },
    });

  before(async () => {
    dir = tempDir();
    const ca = await makeTestCa('ENS Test CA');
    const [server, ens] = await Promise.all([issueTestServer(ca), issueTestClient(ca, 'credgate-ens')]);
    const w = (name: string, data: string) => {
      writeFileSync(join(dir, name), data, { mode: 0o600 });
      return join(dir, name);
    };
    files = {
      ca: w('ca.pem', ca.pem),
      cert: w('server.pem', server.cert),
      key: w('server-key.pem', server.key),
      ensCert: w('ens.pem', ens.cert),
      ensKey: w('ens-key.pem', ens.key),
    };
    const tls = { ca: files.ca, cert: files.cert, key: files.key };
    qos0 = await startMosquitto(dir, tls, { settings: ['max_qos 0'] });
    lossy = await startMosquitto(dir, tls);
    refusing = await startEnsBroker({ ca: ca.pem, cert: server.cert, key: server.key, grant: (topic, qos) => (topic === 'device/wiped' ? 0x80 : qos) });
    core = await startCoreApi({
      cert: server.cert,
      key: server.key,
      username: 'credgate-api',
      password: ENV.MI_GRANTS_API_PASSWORD,
      adminDeviceSpaceId: 1,
      ceSettingNames: ['Signing', 'Encryption'],
    });

    const connectors = { 'mi-qos0': qos0.url, 'mi-refused': refusing.url, 'mi-lost': lossy.url };
    checkout = freshCheckout();
    for (const folder of [join(dir, 'connectors'), join(checkout, 'config/connectors')]) {
      for (const [id, url] of Object.entries(connectors)) writeConnectorFile(folder, id, connector(url));
    }
    Object.assign(process.env, ENV);
    gw = await startTestGateway({ dir, overrides: { connectors: { dir: join(dir, 'connectors') } } });
  });
  after(async () => {
    await gw?.stop();
    for (const s of [qos0, lossy, refusing, core]) await s?.stop();
  });

  test('a broker that grants QoS 0 (Mosquitto max_qos 0): an error names each topic and its QoS; /readyz fails connector:mi-qos0; connectors test fails', async () => {
    const logged = await until('the downgrade to be logged', () => errorsOf('mi-qos0', 'the broker granted less than QoS 1')[0], 10_000);
    assert.deepEqual(logged.topics, TOPICS);
    assert.equal(logged.granted, 'device/enrolled: QoS 0, device/retired: QoS 0, device/wiped: QoS 0');

    const r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.checks['connector:mi-qos0'], 'failed');
    assert.doesNotMatch(r.raw, /QoS|mqtts/, 'the public answer names the check only');
    assert.match(readinessReason('connector:mi-qos0')!, /granted device\/enrolled: QoS 0, .*at-least-once delivery needs QoS 1/);

    const cli = await connectorTest('mi-qos0');
    assert.equal(cli.status, 1, cli.stdout);
    assert.match(
      cli.stdout,
      /^failed {2}broker: mqtts:\/\/127\.0\.0\.1:\d+ granted device\/enrolled: QoS 0, device\/retired: QoS 0, device\/wiped: QoS 0: their events would arrive at most once; the broker must allow QoS 1 \(Mosquitto: max_qos\)$/m,
    );
  });

  test('a refused subscription (SUBACK 0x80): an error names the topic; /readyz fails connector:mi-refused; connectors test fails', async () => {
    const logged = await until('the refusal to be logged', () => errorsOf('mi-refused', 'the broker refused these subscriptions')[0], 10_000);
    assert.deepEqual(logged.topics, ['device/wiped']);
    assert.equal(logged.granted, 'device/wiped: refused (SUBACK 0x80)');
    assert.ok(
      refusing.subscriptions.some((s) => s.topic === 'device/wiped' && s.qos === 1),
      'the gateway asked for QoS 1',
    );

    const r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.checks['connector:mi-refused'], 'failed');
    assert.match(readinessReason('connector:mi-refused')!, /granted device\/wiped: refused \(SUBACK 0x80\)/);

    const cli = await connectorTest('mi-refused');
    assert.equal(cli.status, 1, cli.stdout);
    assert.match(
      cli.stdout,
      /^failed {2}broker: mqtts:\/\/127\.0\.0\.1:\d+ refused the subscription to device\/wiped; the broker's ACL must let this certificate read them$/m,
    );
  });

  test('a broker restarted without persistence lost the persistent session: an error, /readyz fails connector:mi-lost until a connect finds the session again', async () => {
    const subscribed = () => logLines().filter((l) => l.connector === 'mi-lost' && l.msg === 'subscribed').length;
    await until('mi-lost to subscribe', () => subscribed() > 0, 10_000);
    assert.equal((await readyz()).checks['connector:mi-lost'], 'subscribed');
    const cli = await connectorTest('mi-lost');
    assert.match(
      cli.stdout,
      /^ok {6}broker: connected to mqtts:\/\/127\.0\.0\.1:\d+; subscribed to device\/enrolled, device\/retired, device\/wiped at QoS 1; the broker kept the session across a reconnect$/m,
    );

    await lossy.restart();
    const lost = await until('the lost session to be logged', () => errorsOf('mi-lost', 'the broker lost the persistent session')[0], 10_000);
    const clientId = lost.clientId!;
    assert.match(clientId, /^credgate-test-[0-9a-f]{12}$/);
    const r = await until(
      '/readyz to fail connector:mi-lost',
      async () => ((await readyz()).checks['connector:mi-lost'] === 'failed' ? readyz() : undefined),
      5000,
    );
    assert.equal(r.status, 503);
    assert.match(readinessReason('connector:mi-lost')!, new RegExp(`lost the persistent session of ${clientId}`));

    // Another connection with the gateway's client id takes the session over, and the gateway takes it back: now it is there.
    const before = subscribed();
    const takeover = await mqtt.connectAsync(lossy.url, {
      ca: readFileSync(files.ca),
      cert: readFileSync(files.ensCert),
      key: readFileSync(files.ensKey),
      clientId,
      clean: false,
      reconnectPeriod: 0,
    });
    await takeover.endAsync(true).catch(() => undefined);
    await until('the gateway to subscribe again', () => subscribed() > before, 10_000);
    await until('/readyz to pass connector:mi-lost again', async () => (await readyz()).checks['connector:mi-lost'] === 'subscribed', 5000);
    assert.equal(errorsOf('mi-lost', 'the broker lost the persistent session').length, 1, 'the resumed session is no loss');
  });
});
