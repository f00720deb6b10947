/**
 * The sample payloads in config/connectors/examples/ are what their
 * connectors accept: each parses into the event it stands for, and the
 * Workspace ONE ones, posted with curl to a gateway whose connector is the
 * example file (its hosts and paths pointed at the stand-ins), are answered
 * 202 and end in uploads to the Escrow Gateway, as README.md shows.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEnsMessage } from '../../connectors/mobileiron/event.js';
import { mobileIronSchema } from '../../connectors/mobileiron/schema.js';
import { enrollmentGap } from '../../connectors/workspace-one/delivery-needs.js';
import { parseBody, screenFields, toMdmEvent } from '../../connectors/workspace-one/event.js';
import { workspaceOneSchema, type WorkspaceOneSettings } from '../../connectors/workspace-one/schema.js';
import { parseYaml } from '../../src/config/load.js';
import { REPO } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { pointWs1Example } from '../helpers/ws1-example-standins.js';
import { makeTestTls, startEscrowGateway, startUemApi, writeTestTlsFiles, type EscrowGatewayHandle, type UemApiHandle } from '../helpers/ws1-standins.js';

const EXAMPLES = join(REPO, 'config/connectors/examples');
const example = (name: string) => readFileSync(join(EXAMPLES, name), 'utf8');
/** What the example files take from the environment. */
const ENV = {
  WS1_EVENTS_PASSWORD: 'ws1-events-password-5521',
  WS1_PKCS12_PASSWORD: 'eg-profile-password-73',
  WS1_EG_CLIENT_PASSWORD: 'the test client PKCS#12 password',
  WS1_TENANT_CODE: 'tenant-code-for-samples',
  WS1_OAUTH_CLIENT_ID: 'credgate-samples',
  WS1_OAUTH_CLIENT_SECRET: 'oauth-secret-for-samples',
  MI_PKCS12_PASSWORD: 'mi-p12-password-91',
  MI_ENS_KEY_PASSPHRASE: 'mi-ens-passphrase',
  MI_API_PASSWORD: 'mi-api-password',
};

describe('sample payloads of config/connectors/examples', () => {
  test('workspace-one-event.json and .xml: an enrollment with every field the Escrow Gateway delivery needs', () => {
    const settings = parseYaml(example('workspace-one.yaml'), 'workspace-one.yaml', workspaceOneSchema, { env: ENV }) as WorkspaceOneSettings;
    const json = screenFields(parseBody(example('workspace-one-event.json'), 'application/json'));
    const xml = screenFields(parseBody(example('workspace-one-event.xml'), 'application/xml'));
    assert.deepEqual(Object.keys(xml.fields).sort(), Object.keys(json.fields).sort(), 'the XML sample carries the fields of the JSON one');
    for (const { fields, dropped } of [json, xml]) {
      assert.deepEqual(dropped, []);
      const event = toMdmEvent('ws1', fields);
      assert.equal(event.type, 'enrolled');
      assert.equal(event.device.id, fields.DeviceUUID);
      assert.deepEqual(event.user, { id: fields.EnrollmentUserUUID, vendorId: '12', userName: 'jsmith', email: 'jane.smith@example.com' });
      assert.equal(enrollmentGap(settings, fields), undefined);
      assert.equal(enrollmentGap({ ...settings, delivery: 'uem-upload' }, fields), undefined, 'and the uploadsmimecerts delivery');
    }
    assert.notEqual(toMdmEvent('ws1', json.fields).dedupeKey, toMdmEvent('ws1', xml.fields).dedupeKey, 'two devices, two events');
  });

  test('mobileiron-ens-message.json: one enrolled device, with the Core user its credentials are filed under', () => {
    const settings = parseYaml(example('mobileiron.yaml'), 'mobileiron.yaml', mobileIronSchema, { env: ENV });
    const [topic] = settings.broker.topics;
    assert.equal(topic, 'device/enrolled');
    const parsed = parseEnsMessage('mi', topic!, Buffer.from(example('mobileiron-ens-message.json')));
    assert.deepEqual(parsed.refused, []);
    assert.equal(parsed.events.length, 1);
    const { event, dropped } = parsed.events[0]!;
    assert.deepEqual(dropped, []);
    assert.equal(event.type, 'enrolled');
    assert.equal(event.device.id, '2c3d8f8e-5c6b-4b8e-9f1a-7d2e4c5b6a70');
    assert.deepEqual(event.user, { id: '8d1e3b52-6a7f-4c09-b1d2-3e4f5a6b7c8d', userName: 'jsmith', vendorId: 'jsmith' });
  });

  describe('posted with curl to a gateway running the example Workspace ONE connector', () => {
    let gw: TestGateway;
    let eg: EscrowGatewayHandle;
    let uem: UemApiHandle;
    let dir: string;

    before(async () => {
      dir = tempDir();
      const tls = await makeTestTls();
      const files = writeTestTlsFiles(tls, dir);
      ENV.WS1_EG_CLIENT_PASSWORD = tls.client.pkcs12Password;
      eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
      uem = await startUemApi({
        cert: tls.server.cert,
        key: tls.server.key,
        tenantCode: ENV.WS1_TENANT_CODE,
        oauth: { clientId: ENV.WS1_OAUTH_CLIENT_ID, clientSecret: ENV.WS1_OAUTH_CLIENT_SECRET },
      });
      mkdirSync(join(dir, 'connectors'));
      writeFileSync(
        join(dir, 'connectors/ws1.yaml'),
        pointWs1Example(example('workspace-one.yaml'), { eg, uem, clientP12: files.clientP12, caFile: files.ca }),
      );
      Object.assign(process.env, ENV);
      gw = await startTestGateway({ dir, overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms' } } });
    });
    after(async () => {
      await gw?.stop();
      await eg?.stop();
      await uem?.stop();
    });

    const post = (sample: string, contentType: string) =>
      curl(`https://localhost:${gw.port}/connectors/ws1/events`, [
        '--cacert',
        join(dir, 'certs/root-ca.pem'),
        '-u',
        `ws1-events:${ENV.WS1_EVENTS_PASSWORD}`,
        '-H',
        `Content-Type: ${contentType}`,
        '--data-binary',
        `@${join(EXAMPLES, sample)}`,
      ]);

    test('both samples are answered 202, and each device gets its credentials at the Escrow Gateway', async () => {
      const json = await post('workspace-one-event.json', 'application/json');
      assert.equal(json.status, 202, json.body);
      assert.equal(json.json().status, 'accepted');
      const xml = await post('workspace-one-event.xml', 'application/xml');
      assert.equal(xml.status, 202, xml.body);
      await until('two uploads to the Escrow Gateway', () => eg.uploads.length === 2, 60_000, 100);
      assert.deepEqual(eg.uploads.map((u) => u.deviceUuid).sort(), ['4b7c2e90-3d15-4f6a-8e21-0c9d8b7a6f54', 'f90f1abd-b914-4895-9b59-82e8aecf0e66']);
      assert.ok(eg.uploads.every((u) => u.userUuid === 'fe13e814-7415-4fce-9f47-de5a55bfe57a' && u.signing.length === 1 && u.encryption.length === 1));
      const issued = (template: string) => gw.issuance.certificates.list({ userId: 'fe13e814-7415-4fce-9f47-de5a55bfe57a', template });
      assert.equal((await issued('smime-signing')).length, 2, 'a signing credential per device');
      assert.equal((await issued('smime-encryption')).length, 1, "one encryption credential, the user's, for both");
      const again = await post('workspace-one-event.json', 'application/json');
      assert.equal(again.status, 200, 'a redelivery changes nothing');
      assert.equal(again.json().status, 'duplicate');
    });
  });
});
