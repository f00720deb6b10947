/**
 * MobileIron Event Notification Service messages whose device entries would
 * put unsafe text into a certificate, or whose credentials Core could never
 * take, published to a real Mosquitto broker as Core would: the device is
 * left out with a warning naming the field (the others in the message go
 * on), and nothing of it is stored or issued.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { mobileIronSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCoreApi, type CoreApiHandle } from '../helpers/mobileiron-standins.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { issueTestClient, issueTestServer, makeTestCa } from '../helpers/ws1-standins.js';
import { REFUSED_CHARACTERS } from '../helpers/refused-characters.js';

const SETTINGS = { signing: 'credgate S/MIME signing', encryption: 'credgate S/MIME encryption' };
/** The device entry fields that become the event's user and device. */
const FIELDS = ['identifier', 'userId', 'userUuid', 'serialNumber', 'iosUdid', 'model', 'os'] as const;

let guids = 0;
const device = (extra: Record<string, unknown> = {}) => ({
  deviceGuid: `7a000000-0000-4000-8000-${String(++guids).padStart(12, '0')}`,
  identifier: `iPhone of jdoe ${guids}`,
  iosUdid: `00008030-0000000000000${guids}`,
  userId: 'jdoe',
  userUuid: 'a1a1a1a1-0000-4000-8000-00000000000a',
  serialNumber: `SERIAL${guids}`,
  model: 'iPhone',
  os: 'iOS',
  ...extra,
});

describe('MobileIron intake: device entry fields and what Core needs', () => {
  let dir: string;
  let broker: MosquittoHandle;
  let core: CoreApiHandle;
  let gw: TestGateway;
  let publisher: mqtt.MqttClient;
  let timestamp = 1_717_000_000_000;
  const publish = (topic: string, devices: unknown[]) => publisher.publishAsync(topic, JSON.stringify({ timestamp: ++timestamp, devices }), { qos: 1 });
  const rowsFor = async (guid: string) => ({
    events: await gw.db('mdm_events').where({ device_id: guid }),
    certificates: await gw.db('certificates').where({ device_id: guid }),
    deliveries: await gw.db('deliveries').where({ device_id: guid }),
  });
  const warnings = (msg: string) =>
    gw
      .logs()
      .split('\n')
      .filter((l) => l.includes(msg))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    dir = tempDir();
    const ca = await makeTestCa('ENS Test CA');
    const [server, ens, publisherId] = await Promise.all([issueTestServer(ca), issueTestClient(ca, 'credgate-ens'), issueTestClient(ca, 'core-publisher')]);
    const w = (name: string, data: string) => {
      writeFileSync(join(dir, name), data, { mode: 0o600 });
      return join(dir, name);
    };
    const files = {
      ca: w('ca.pem', ca.pem),
      serverCert: w('server.pem', server.cert),
      serverKey: w('server-key.pem', server.key),
      ensCert: w('ens.pem', ens.cert),
      ensKey: w('ens-key.pem', ens.key),
    };
    broker = await startMosquitto(dir, { ca: files.ca, cert: files.serverCert, key: files.serverKey });
    core = await startCoreApi({
      cert: server.cert,
      key: server.key,
      username: 'credgate-api',
      password: 'core-api-password-123',
      adminDeviceSpaceId: 1,
      ceSettingNames: Object.values(SETTINGS),
    });
    writeConnectorFile(
      join(dir, 'connectors'),
      'mi',
      mobileIronSettings({
        pkcs12: { format: 'modern', password: 'core-profile-password' },
        broker: {
          url: broker.url,
          ca: files.ca,
          clientCertificate: { cert: files.ensCert, key: files.ensKey },
          clientIdPrefix: 'credgate-fi-',
          reconnect: { initial: '200ms', max: '1s' },
        },
        coreApi: {
          url: core.url,
          basic: { username: 'credgate-api', password: 'core-api-password-123' },
          serverCa: files.ca,
          upload: { ceSettingNames: SETTINGS },
          userLookup: {},
        },
      }),
    );
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '50ms', max: '200ms' } } },
    });
    publisher = await mqtt.connectAsync(broker.url, {
      ca: readFileSync(files.ca),
      cert: publisherId.cert,
      key: publisherId.key,
      clientId: 'core-ens-publisher',
      reconnectPeriod: 200,
    });
    await until('the gateway subscription', () => /"msg":"subscribed"/.test(gw.logs()), 10_000);
  });
  after(async () => {
    await publisher?.endAsync(true);
    await gw?.stop();
    await core?.stop();
    await broker?.stop();
  });

  test('a device entry with a refused character is left out with a warning naming the field; the good device in the same message is enrolled', async () => {
    const good = device();
    core.addDevice(good.deviceGuid, 'jdoe@example.com');
    const bad = FIELDS.flatMap((field) => REFUSED_CHARACTERS.map(([name, ch, says]) => ({ field, name, says, entry: device({ [field]: `ab${ch}cd` }) })));
    for (const b of bad) core.addDevice(b.entry.deviceGuid, 'jdoe@example.com');
    await publish('device/enrolled', [...bad.map((b) => b.entry), good]);
    await until(
      'the good device delivered',
      async () => (await gw.db('deliveries').where({ device_id: good.deviceGuid, status: 'delivered' }).first()) as unknown,
      15_000,
    );
    const ignored = warnings('ENS device ignored');
    bad.forEach((b, i) => {
      const w = ignored.find((l) => l.device === b.entry.deviceGuid);
      assert.ok(w, `${b.field} with ${b.name} is warned about`);
      assert.equal(w.field, `devices.${i}.${b.field}`);
      assert.match(String(w.reason), b.says);
    });
    for (const b of bad) assert.deepEqual(await rowsFor(b.entry.deviceGuid), { events: [], certificates: [], deliveries: [] }, `${b.field} with ${b.name}`);
    assert.ok(!core.uploads.some((u) => u.userId !== 'jdoe'), 'only the good device reached Core');
  });

  test('an enrollment that names no userId is left out: Core files credentials under it', async () => {
    const entry = device({ userId: null });
    core.addDevice(entry.deviceGuid, 'jdoe@example.com');
    await publish('device/enrolled', [entry]);
    await until('the warning', () => warnings('ENS enrollment ignored').some((l) => l.device === entry.deviceGuid), 5000);
    assert.match(String(warnings('ENS enrollment ignored').find((l) => l.device === entry.deviceGuid)!.reason), /Core files credentials under the userId/);
    assert.deepEqual(await rowsFor(entry.deviceGuid), { events: [], certificates: [], deliveries: [] });
  });

  test("an address from Core's device search is checked like the event's: one with NUL ends the job before anything is issued", async () => {
    const entry = device();
    core.addDevice(entry.deviceGuid, 'jdoe\u0000@example.com');
    await publish('device/enrolled', [entry]);
    const job = await until(
      'the dead job',
      async () => {
        const event = (await gw.db('mdm_events').where({ device_id: entry.deviceGuid }).first()) as { id: number } | undefined;
        const jobs = (await gw.db('jobs').where({ type: 'mdm.event', status: 'dead' })) as { payload: string; last_error: string }[];
        return event && jobs.find((j) => JSON.parse(j.payload).eventId === event.id);
      },
      10_000,
    );
    assert.match(job.last_error, /nothing issued: the user's email address has a control character \(U\+0000\)/);
    const rows = await rowsFor(entry.deviceGuid);
    assert.deepEqual([rows.certificates, rows.deliveries], [[], []]);
  });

  test('a retired device whose name fails the check is still unenrolled; the name is not stored', async () => {
    const entry = device();
    core.addDevice(entry.deviceGuid, 'jdoe@example.com');
    await publish('device/enrolled', [entry]);
    await until('the delivery', async () => (await gw.db('deliveries').where({ device_id: entry.deviceGuid, status: 'delivered' }).first()) as unknown, 15_000);
    await publish('device/retired', [{ ...entry, identifier: 'iPhone\u202eexe' }]);
    await until(
      'the revocation',
      async () => (await gw.db('certificates').where({ device_id: entry.deviceGuid, template: 'smime-signing' }).first())?.status === 'revoked',
      10_000,
    );
    const departure = (await gw.db('mdm_events').where({ device_id: entry.deviceGuid, type: 'unenrolled' }).first()) as { device: string; payload: string };
    assert.equal(JSON.parse(departure.device).name, undefined);
    assert.equal(JSON.parse(departure.payload).device.identifier, undefined);
    assert.ok(warnings('ENS departure accepted without').some((l) => l.device === entry.deviceGuid));
  });
});
