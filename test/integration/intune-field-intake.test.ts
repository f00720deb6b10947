/**
 * Managed devices whose Intune listing, or whose Entra ID user record, would
 * put unsafe text into a certificate or leave Intune without a user to file
 * imports under: the device is skipped with a warning naming the field (the
 * rest of the listing goes on), or its job ends before anything is issued,
 * and nothing of it is left behind.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { intuneSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud, type ManagedDevice } from '../helpers/intune-standins.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';
import { REFUSED_CHARACTERS } from '../helpers/refused-characters.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '6731de76-14a6-49ae-97bc-6eba6914391e';
const CLIENT_SECRET = 'app-secret-field-intake';

/** The listing's fields that become the event's user and device, or the device store's key. */
const FIELDS = ['id', 'userId', 'userPrincipalName', 'emailAddress', 'userDisplayName', 'serialNumber', 'operatingSystem', 'model', 'deviceName'] as const;

describe('Intune intake: listing and Entra ID fields', () => {
  let cloud: IntuneCloud;
  let gw: TestGateway;
  let n = 0;

  const user = (mail: string | undefined, upn?: string) => {
    const id = `${String(++n).padStart(8, '0')}-0000-4000-8000-000000000000`;
    cloud.users.set(id, { id, userPrincipalName: upn ?? `user${n}@contoso.onmicrosoft.com`, ...(mail !== undefined && { mail }), displayName: `User ${n}` });
    return id;
  };
  const device = (id: string, userId: string, extra: Record<string, unknown> = {}): ManagedDevice =>
    ({
      id,
      userId,
      userPrincipalName: cloud.users.get(userId)?.userPrincipalName,
      emailAddress: cloud.users.get(userId)?.mail ?? '',
      userDisplayName: 'A User',
      enrolledDateTime: '2024-05-02T10:00:00Z',
      serialNumber: `SN-${id}`.slice(0, 40),
      operatingSystem: 'iOS',
      model: 'iPhone 15',
      deviceName: 'My iPhone',
      complianceState: 'compliant',
      managedDeviceOwnerType: 'company',
      ...extra,
    }) as ManagedDevice;
  const rowsFor = async (deviceId: string) => ({
    events: await gw.db('mdm_events').where({ device_id: deviceId }),
    certificates: await gw.db('certificates').where({ device_id: deviceId }),
    deliveries: await gw.db('deliveries').where({ device_id: deviceId }),
    known: await gw.db('intune_devices').where({ device_id: deviceId }),
  });
  const deadJobOf = (deviceId: string) =>
    until(
      `the dead job of ${deviceId}`,
      async () => {
        const event = (await gw.db('mdm_events').where({ device_id: deviceId }).first()) as { id: number } | undefined;
        const jobs = (await gw.db('jobs').where({ type: 'mdm.event', status: 'dead' })) as { payload: string; last_error: string }[];
        return event && jobs.find((j) => JSON.parse(j.payload).eventId === event.id);
      },
      10_000,
    );

  before(async () => {
    const dir = tempDir();
    const tls = await makeTestTls();
    const caFile = writeTestTlsFiles(tls, dir).ca;
    cloud = await startIntuneCloud({
      tls: tls.server,
      tenant: TENANT,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientCertificate: new X509Certificate(tls.client.cert),
      pageSize: 10,
    });
    writeFileSync(join(dir, 'connector-key.pem'), cloud.connectorPublicKeyPem);
    writeConnectorFile(
      join(dir, 'connectors'),
      'intune',
      intuneSettings(cloud, {
        clientSecret: CLIENT_SECRET,
        trust: caFile,
        pkcs12: { format: 'modern', password: 'Intune-pfx-password-7' },
        polling: { interval: '300ms' },
        connectorPublicKey: join(dir, 'connector-key.pem'),
      }),
    );
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '50ms', max: '200ms' } } },
    });
  });
  after(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  test('a device whose listing has a refused character, or an id too long to keep, is skipped with a warning naming the field; the rest of the listing is enrolled', async () => {
    const bad = FIELDS.flatMap((field) =>
      REFUSED_CHARACTERS.map(([name, ch, says]) => {
        const id = `dev-bad-${++n}`;
        const owner = user(`owner${n}@contoso.com`);
        const entry = device(field === 'id' ? `${id}${ch}` : id, owner);
        return { field, name, says, entry: { ...entry, [field]: `${String(entry[field as keyof ManagedDevice] ?? 'x').slice(0, 6)}${ch}x` } as ManagedDevice };
      }),
    );
    bad.push({ field: 'id', name: '500 characters', says: /device id is 500 characters long/, entry: device('d'.repeat(500), user('long@contoso.com')) });
    const good = user('good@contoso.com');
    cloud.devices.push(...bad.map((b) => b.entry), device('dev-good-1', good));
    await until(
      'the good device delivered',
      async () => (await gw.db('deliveries').where({ device_id: 'dev-good-1', status: 'delivered' }).first()) as unknown,
      20_000,
    );
    const skipped = gw
      .logs()
      .split('\n')
      .filter((l) => l.includes('managed device skipped'))
      .map((l) => JSON.parse(l) as { deviceId?: string; field: string; reason: string });
    for (const b of bad) {
      const w = skipped.find((l) => (b.field === 'id' ? l.field === 'id' && b.says.test(l.reason) : l.deviceId === b.entry.id));
      assert.ok(w, `${b.field} with ${b.name} is warned about`);
      assert.equal(w.field, b.field);
      assert.match(w.reason, b.says);
      assert.deepEqual(await rowsFor(b.entry.id), { events: [], certificates: [], deliveries: [], known: [] }, `${b.field} with ${b.name}`);
    }
  });

  test("Entra ID's answers are checked too: an address with NUL, a UPN with U+202E or none at all ends the job before anything is issued", async () => {
    const cases: [string, ManagedDevice, RegExp][] = [];
    // No address in the listing: the connector asks Entra ID for the user's mail.
    const nulMail = user('eve\u0000@contoso.com');
    cases.push([
      'dev-mail-nul',
      device('dev-mail-nul', nulMail, { emailAddress: '' }),
      /nothing issued: the user's email address has a control character \(U\+0000\)/,
    ]);
    // No UPN in the listing: the import is filed under the one Entra ID has.
    const rloUpn = user('mallory@contoso.com', 'mallory\u202egpj.exe@contoso.onmicrosoft.com');
    cases.push([
      'dev-upn-rlo',
      device('dev-upn-rlo', rloUpn, { userPrincipalName: undefined }),
      /nothing issued: Entra ID's user principal name has a bidirectional control character \(U\+202E\)/,
    ]);
    const noUpn = user('nobody@contoso.com', '');
    cases.push([
      'dev-upn-none',
      device('dev-upn-none', noUpn, { userPrincipalName: undefined }),
      /nothing issued: user .* has no userPrincipalName in Entra ID/,
    ]);
    cloud.devices.push(...cases.map(([, d]) => d));
    for (const [id, , says] of cases) {
      const job = await deadJobOf(id);
      assert.match(job.last_error, says, id);
      const rows = await rowsFor(id);
      assert.deepEqual([rows.certificates, rows.deliveries], [[], []], `${id}: nothing issued`);
    }
    assert.equal(cloud.imports.filter((i) => /eve|mallory|nobody/.test(i.body.userPrincipalName ?? '')).length, 0);
  });
});
