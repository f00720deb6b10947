/** MobileIron connector: ENS messages to events, and its YAML schema (the shipped example included). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseYaml, ConfigError } from '../../src/config/load.js';
import { EnsMessageError, parseEnsMessage, parseTimestamp } from '../../connectors/mobileiron/event.js';
import { mobileIronSchema } from '../../connectors/mobileiron/schema.js';
import { REPO } from '../helpers/cli.js';

const DEVICE = {
  deviceGuid: '0a1b2c3d-0000-4000-8000-000000000001',
  identifier: 'jdoe-iphone',
  iosUdid: '00008030-001A2B3C4D5E6F70',
  userId: 'jdoe',
  userUuid: 'u-5f2c',
  status: 'ACTIVE',
  compliant: true,
  serialNumber: 'F2LXK0ABCD',
  model: 'iPhone 15',
  os: 'iOS',
};
const msg = (m: unknown) => Buffer.from(JSON.stringify(m));

describe('ENS messages', () => {
  test('one event per device, typed by eventType, with user and device fields', () => {
    const other = { ...DEVICE, deviceGuid: 'guid-2', userId: 'asmith@example.com', userUuid: undefined, iosUdid: null };
    const { vendorType, events } = parseEnsMessage(
      'mi',
      'device/enrolled',
      msg({ timestamp: 1717171717000, eventType: 'device.enrolled', devices: [DEVICE, other] }),
    );
    assert.equal(vendorType, 'device.enrolled');
    assert.equal(events.length, 2);
    const [a, b] = events.map((e) => e.event);
    assert.deepEqual(
      { type: a!.type, user: a!.user, device: a!.device, occurredAt: a!.occurredAt.toISOString() },
      {
        type: 'enrolled',
        user: { id: 'u-5f2c', userName: 'jdoe', vendorId: 'jdoe' },
        device: { id: DEVICE.deviceGuid, serialNumber: 'F2LXK0ABCD', udid: DEVICE.iosUdid, platform: 'iOS', model: 'iPhone 15', name: 'jdoe-iphone' },
        occurredAt: '2024-05-31T16:08:37.000Z',
      },
    );
    assert.deepEqual(
      b!.user,
      { id: 'asmith@example.com', userName: 'asmith@example.com', vendorId: 'asmith@example.com' },
      'no uuid: the userId is the id; no email guessed here',
    );
    assert.equal(b!.device.udid, undefined);
    assert.notEqual(a!.dedupeKey, b!.dedupeKey);
    assert.deepEqual(events[0]!.payload.device, DEVICE, 'the device entry is stored as received');
  });

  test('retired and wiped map to unenrolled and wiped; other types are stored as unknown', () => {
    const type = (eventType: string) =>
      parseEnsMessage('mi', eventType.replace('.', '/'), msg({ timestamp: 1, eventType, devices: [DEVICE] })).events[0]!.event.type;
    assert.equal(type('device.retired'), 'unenrolled');
    assert.equal(type('device.wiped'), 'wiped');
    assert.equal(type('device.not_compliant'), 'compliance-changed');
    assert.equal(type('device.renamed'), 'unknown');
  });

  test('without eventType the topic names the type, also under a Neurons tenant prefix', () => {
    const e = parseEnsMessage('mi', '6f1c0000-aaaa/device/retired', msg({ timestamp: '2024-06-01T10:00:00Z', devices: [DEVICE] })).events[0]!.event;
    assert.equal(e.vendorType, 'device.retired');
    assert.equal(e.type, 'unenrolled');
  });

  test('a body whose eventType contradicts its topic is refused; case and a tenant prefix do not matter', () => {
    const parse = (topic: string, eventType: string) => parseEnsMessage('mi', topic, msg({ timestamp: 1, eventType, devices: [DEVICE] }));
    assert.throws(
      () => parse('device/enrolled', 'device.wiped'),
      (err: unknown) => err instanceof EnsMessageError && /eventType "device\.wiped" does not match topic device\/enrolled/.test(err.message),
    );
    assert.throws(() => parse('6f1c0000-aaaa/device/compliant', 'device.retired'), EnsMessageError);
    assert.equal(parse('6f1c0000-aaaa/device/retired', 'Device.Retired').events[0]!.event.type, 'unenrolled');
  });

  test('the dedupe key is the same for a redelivered message and differs for a later one', () => {
    const body = msg({ timestamp: 1717171717000, eventType: 'device.enrolled', devices: [DEVICE] });
    const key = (b: Buffer) => parseEnsMessage('mi', 'device/enrolled', b).events[0]!.event.dedupeKey;
    assert.equal(key(body), key(Buffer.from(body)));
    assert.equal(key(body), `mobileiron:${DEVICE.deviceGuid}:device.enrolled:1717171717000`);
    assert.notEqual(key(body), key(msg({ timestamp: 1717171718000, eventType: 'device.enrolled', devices: [DEVICE] })));
  });

  test('timestamps: epoch milliseconds, epoch seconds, numeric strings and ISO-8601', () => {
    assert.equal(parseTimestamp(1717171717000).toISOString(), '2024-05-31T16:08:37.000Z');
    assert.equal(parseTimestamp(1717171717).toISOString(), '2024-05-31T16:08:37.000Z');
    assert.equal(parseTimestamp('1717171717000').toISOString(), '2024-05-31T16:08:37.000Z');
    assert.equal(parseTimestamp('2024-05-31T16:08:37Z').toISOString(), '2024-05-31T16:08:37.000Z');
    assert.throws(() => parseTimestamp('yesterday'), EnsMessageError);
  });

  test('bad messages are refused with the reason', () => {
    const reason = (body: Buffer | string) => {
      try {
        parseEnsMessage('mi', 'device/enrolled', Buffer.from(body));
      } catch (err) {
        assert.ok(err instanceof EnsMessageError, String(err));
        return err.message;
      }
      assert.fail('accepted');
    };
    assert.match(reason('{"timestamp": 1, "devices": ['), /malformed JSON/);
    assert.match(reason(Buffer.from([0xff, 0xfe, 0x00])), /malformed JSON/);
    assert.match(reason('[]'), /message/);
    assert.match(reason(JSON.stringify({ timestamp: 1, devices: [] })), /devices is empty/);
    assert.match(reason(JSON.stringify({ devices: [DEVICE] })), /^timestamp/);
    assert.match(reason(JSON.stringify({ timestamp: 1, devices: [{ ...DEVICE, deviceGuid: '' }] })), /devices\.0\.deviceGuid: deviceGuid is empty/);
    assert.match(reason(JSON.stringify({ timestamp: 1, devices: [{ ...DEVICE, deviceGuid: 'x'.repeat(300) }] })), /devices\.0\.deviceGuid/);
    assert.match(reason(JSON.stringify({ timestamp: 1, devices: [{ ...DEVICE, userId: { $ne: 1 } }] })), /devices\.0\.userId/);
    for (const guid of ['*', 'a b', 'guid"', '../x', '%']) {
      assert.match(
        reason(JSON.stringify({ timestamp: 1, devices: [{ ...DEVICE, deviceGuid: guid }] })),
        /devices\.0\.deviceGuid: deviceGuid has characters no device id has/,
        guid,
      );
    }
    assert.match(reason(JSON.stringify({ timestamp: 'soon', devices: [DEVICE] })), /timestamp "soon"/);
  });
});

describe('MobileIron connector schema', () => {
  const base = {
    kind: 'mobileiron',
    policy: { enrolled: { signing: 'smime-signing', encryption: 'smime-encryption' }, pkcs12: { password: 'p12-password' } },
    broker: { url: 'mqtts://core.example.com:8883', clientCertificate: { cert: 'c.pem', key: 'k.pem' } },
    coreApi: { url: 'https://core.example.com', basic: { username: 'api', password: 'pw' }, upload: { ceSettingNames: { signing: 'S', encryption: 'E' } } },
  };
  const issues = (v: unknown) => {
    const r = mobileIronSchema.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('defaults follow the contract', () => {
    const s = mobileIronSchema.parse(base);
    assert.deepEqual(s.broker.topics, ['device/enrolled', 'device/retired', 'device/wiped']);
    assert.equal(s.coreApi.upload.path, '/api/v2/usercertificates/upload');
    assert.deepEqual(s.coreApi.upload.fields, { file: 'file', password: 'password', userId: 'userId', ceSettingName: 'ceSettingName' });
    assert.equal(s.coreApi.adminDeviceSpaceId, 1);
    assert.equal(s.broker.session, 'persistent');
  });

  test('every purpose the policy issues needs its Core enrollment setting', () => {
    const noEnc = { ...base, coreApi: { ...base.coreApi, upload: { ceSettingNames: { signing: 'S' } } } };
    assert.deepEqual(issues(noEnc), ['coreApi.upload.ceSettingNames.encryption: required: policy.enrolled issues encryption credentials']);
    assert.deepEqual(issues({ ...noEnc, policy: { ...base.policy, enrolled: { signing: 'smime-signing' } } }), []);
  });

  test('plain MQTT, plain HTTP, wildcard topics and webhook settings are refused', () => {
    assert.match(issues({ ...base, broker: { ...base.broker, url: 'mqtt://core.example.com:1883' } }).join(), /broker\.url: expected an mqtts:\/\/ URL/);
    assert.match(issues({ ...base, coreApi: { ...base.coreApi, url: 'http://core.example.com' } }).join(), /coreApi\.url: expected an https:\/\/ URL/);
    assert.match(issues({ ...base, broker: { ...base.broker, topics: ['device/#'] } }).join(), /broker\.topics\.0/);
    assert.match(issues({ ...base, inbound: { basic: [] } }).join(), /inbound/);
  });

  test('the shipped example validates, with its secrets from the environment', () => {
    const file = join(REPO, 'config/connectors/examples/mobileiron.yaml');
    const env = { MI_PKCS12_PASSWORD: 'p12-password', MI_ENS_KEY_PASSPHRASE: 'key-pass', MI_API_PASSWORD: 'api-pass' };
    const s = parseYaml(readFileSync(file, 'utf8'), file, mobileIronSchema, { env, envOverrides: false });
    assert.equal(s.coreApi.basic.password, 'api-pass');
    assert.equal(s.broker.clientCertificate.passphrase, 'key-pass');
    assert.equal(s.scep?.profile, 'mobileiron');
    assert.throws(() => parseYaml(readFileSync(file, 'utf8'), file, mobileIronSchema, { env: {}, envOverrides: false }), ConfigError);
  });
});
