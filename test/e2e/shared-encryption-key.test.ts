/**
 * One person, one current escrowed encryption key, whichever way their
 * devices enroll: a Workspace ONE user whose address a directory person
 * has, that person's mobile IDs and their iPhones over OTA all receive the
 * same key (use-existing), or a newer one that every path then reuses
 * (issue-new). OTA honours a credential profile's historic and
 * includeHistoric as mobile IDs do. Each key is compared as the devices
 * get it: the PKCS#12 opened with openssl.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.js';
import { makeDeviceCa, type Identity } from '../helpers/iphone.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { enrollIphone, type ReceivedCredential } from '../helpers/ota-iphone.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { startWs1Gateway, WS1_P12_PASSWORD, type Ws1Gateway } from '../helpers/ws1-gateway.js';

type Json = Record<string, unknown>;
interface Key {
  serial: string;
  publicKey: string;
}

const ORGANIZATION = 'Example Bank';

describe('one person, one current escrowed encryption key across Workspace ONE, mobile IDs and OTA', () => {
  let w: Ws1Gateway;
  let dir: string;
  let base: string;
  let rootPem: string;
  let device: Identity;
  let files = 0;
  let udids = 0;
  let devices = 0;

  const admin = (method: string, path: string, body?: unknown) =>
    curl(`${base}${path}`, [
      ...adminCurlArgs(join(w.gw.dir, 'certs')),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const bearer = (method: string, path: string, token: string, body?: unknown) =>
    curl(`${base}${path}`, [
      '--cacert',
      rootPem,
      '-X',
      method,
      '-H',
      `Authorization: Bearer ${token}`,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const anonymous = (path: string, body: unknown) =>
    curl(`${base}${path}`, ['--cacert', rootPem, '-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]);

  /** The certificate serial and the public key of the private key in a PKCS#12. */
  const keyIn = (p12: Buffer, password: string): Key => {
    const file = join(dir, `key-${++files}.p12`);
    writeFileSync(file, p12);
    const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', '-clcerts']);
    const serial = /serial=([0-9A-F]+)/.exec(openssl(['x509', '-noout', '-serial'], pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'))))![1]!.toLowerCase();
    const key = pem.slice(pem.indexOf('-----BEGIN PRIVATE KEY-----'), pem.indexOf('-----END PRIVATE KEY-----') + 25);
    return { serial, publicKey: openssl(['pkey', '-pubout'], key) };
  };
  const createPerson = async (body: Json): Promise<string> => {
    const r = await admin('POST', '/api/v1/users', body);
    assert.equal(r.status, 201, r.body);
    return (r.json().user as { id: string }).id;
  };

  /** An enrollment of a new device of Workspace ONE user `user`; its uploadsmimecerts call, the keys opened. */
  const ws1Enrollment = async (user: number, email: string) => {
    const uploaded = w.uem.uploads.filter((u) => u.userId === user).length;
    const n = ++devices;
    const event = {
      EventId: 148,
      EventType: 'MDM Enrollment Complete',
      DeviceId: 100 + n,
      DeviceUUID: `d0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      EnrollmentUserId: user,
      EnrollmentUserName: `ws1-user-${user}`,
      EnrollmentEmailAddress: email,
      EventTime: new Date().toISOString(),
      Platform: 'Apple',
    };
    const r = await w.post('ws1', JSON.stringify(event));
    assert.equal(r.status, 202, r.body);
    const upload = await until(`user ${user}'s upload`, () => w.uem.uploads.filter((u) => u.userId === user)[uploaded], 30_000);
    return { encryption: keyIn(upload.encryption!.payload, WS1_P12_PASSWORD), archived: upload.archived.map((a) => keyIn(a.payload, WS1_P12_PASSWORD)) };
  };

  /** A mobile ID of `credentialProfile` for a directory person, collected by the Identity Agent on an iPhone. */
  const mobileId = async (user: string, credentialProfile: string) => {
    const requested = await admin('POST', '/api/v1/mobile-ids', { user, credentialProfile });
    assert.equal(requested.status, 201, requested.body);
    const { mobileId: m, code } = requested.json() as { mobileId: { id: string }; code: string };
    const session = await anonymous('/mobile/v1/sessions', {
      request: m.id,
      code,
      device: { serial: `PHONE-${++devices}`, platform: 'ios', keyStores: ['system-store'] },
    });
    assert.equal(session.status, 201, session.body);
    const token = session.json().token as string;
    const fetched = await bearer('GET', '/mobile/v1/credentials', token);
    assert.equal(fetched.status, 200, fetched.body);
    assert.equal((await bearer('POST', '/mobile/v1/ack', token)).status, 200);
    const credentials = (fetched.json().credentials as { template: string; kind: string; pkcs12: string; password: string }[]).filter(
      (c) => c.template === 'smime-encryption',
    );
    return credentials.map((c) => ({ kind: c.kind, ...keyIn(Buffer.from(c.pkcs12, 'base64'), c.password) }));
  };

  /** An OTA enrollment of `credentialProfile` for `user`, completed by a new iPhone. */
  const iphone = async (credentialProfile: string, user: Json): Promise<ReceivedCredential[]> => {
    const created = await admin('POST', '/api/v1/ota/enrollments', { credentialProfile, user });
    assert.equal(created.status, 201, created.body);
    const udid = `${String(++udids).padStart(8, '0')}-00000000000000A1`;
    const received = await enrollIphone({ base, dir, rootPem, code: created.json().code as string, udid, device, organization: ORGANIZATION });
    return received.filter((c) => c.fileName.startsWith('smime-encryption'));
  };
  const validEncryptionCertificates = async (user: string) =>
    (
      (await admin('GET', `/api/v1/certificates?user=${encodeURIComponent(user)}&template=smime-encryption&status=valid`)).json().certificates as {
        serial: string;
      }[]
    ).map((c) => c.serial);

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    const apple = await makeDeviceCa(join(dir, 'apple'), 'Test iPhone Device CA');
    device = apple.device;
    w = await startWs1Gateway(
      { ws1: { delivery: 'uem-upload' } },
      {
        server: { port, publicUrl: base },
        ota: { deviceCa: [apple.ca], organization: ORGANIZATION },
        credentialProfiles: {
          shared: { certificates: [{ template: 'smime-signing' }, { template: 'smime-encryption', historic: 'use-existing' }] },
          renewed: { certificates: [{ template: 'smime-encryption' }] },
          history: { certificates: [{ template: 'smime-encryption', includeHistoric: true }] },
          'old-mail': { certificates: [{ template: 'smime-encryption', historic: 'historic-only' }] },
        },
      },
    );
    rootPem = join(w.gw.dir, 'certs/root-ca.pem');
  });
  after(async () => {
    await w?.stop();
  });

  let jane: string;
  let first: Key;

  test('Workspace ONE user 55 with jane@example.com, then the directory person with that address (mobile ID, OTA): one key', async () => {
    jane = await createPerson({ userName: 'jane', displayName: 'Jane Smith', email: 'Jane@Example.com' });
    w.uem.addUser({ id: 55, uuid: 'c0000000-0000-4000-8000-000000000055', userName: 'jsmith', email: 'jane@example.com' });
    const ws1 = await ws1Enrollment(55, 'jane@example.com');
    first = ws1.encryption;

    const [collected, ...others] = await mobileId('jane', 'shared');
    assert.equal(others.length, 0);
    assert.equal(collected!.kind, 'existing', 'the key Workspace ONE has, not a new one');
    assert.deepEqual({ serial: collected!.serial, publicKey: collected!.publicKey }, first);

    const [ota, ...more] = await iphone('shared', { id: 'u-1001', displayName: 'Jane Smith', email: 'jane@EXAMPLE.com' });
    assert.equal(more.length, 0);
    assert.deepEqual({ serial: ota!.serial, publicKey: ota!.publicKey }, first);

    // A second device of user 55 gets it again.
    assert.deepEqual((await ws1Enrollment(55, 'jane@example.com')).encryption, first);
    assert.deepEqual(await validEncryptionCertificates(jane), [first.serial], 'one current encryption certificate, recorded under the person');
    assert.deepEqual(await validEncryptionCertificates('55'), []);
  });

  test("issue-new replaces the person's key: every path then reuses the newer one, and the older travels as archived or historic", async () => {
    const [renewed] = await mobileId('jane', 'renewed');
    assert.equal(renewed!.kind, 'new');
    assert.notEqual(renewed!.serial, first.serial);
    const current = { serial: renewed!.serial, publicKey: renewed!.publicKey };

    const ws1 = await ws1Enrollment(55, 'jane@example.com');
    assert.deepEqual(ws1.encryption, current, 'Workspace ONE delivers the newer key as current');
    assert.deepEqual(ws1.archived, [first], 'and the older one as archived');
    const [ota] = await iphone('shared', { id: 'u-1001', displayName: 'Jane Smith', email: 'jane@example.com' });
    assert.equal(ota!.serial, current.serial);
    const [again] = await mobileId('jane', 'shared');
    assert.equal(again!.serial, current.serial);
  });

  test("OTA honours historic and includeHistoric: a person's second iPhone gets the key of the first, earlier keys come as payloads of their own", async () => {
    // No directory person: the enrollment's user id holds the key.
    const user = { id: 'u-2002', displayName: 'Sam Lee', email: 'sam@example.com' };
    const [one] = await iphone('shared', user);
    const [two] = await iphone('shared', user);
    assert.deepEqual({ serial: two!.serial, publicKey: two!.publicKey }, { serial: one!.serial, publicKey: one!.publicKey });
    assert.deepEqual(await validEncryptionCertificates('u-2002'), [one!.serial]);

    const history = await iphone('history', user);
    assert.equal(history.length, 2, history.map((c) => c.identifier).join(', '));
    const fresh = history.find((c) => c.fileName === 'smime-encryption.p12')!;
    const earlier = history.find((c) => c !== fresh)!;
    assert.notEqual(fresh.serial, one!.serial, 'includeHistoric alone issues a new one');
    assert.equal(earlier.serial, one!.serial);
    assert.equal(earlier.publicKey, one!.publicKey);
    assert.match(earlier.identifier, new RegExp(`\\.smime-encryption\\.historic-${one!.serial}$`));

    const count = async () => Number((await w.gw.db('certificates').where({ template: 'smime-encryption' }).count({ n: '*' }).first())?.n);
    const before = await count();
    const old = await iphone('old-mail', user);
    assert.deepEqual(old.map((c) => c.serial).sort(), [one!.serial, fresh.serial].sort(), 'every earlier key');
    assert.equal(await count(), before, 'historic-only issues nothing');
    const nobody = await admin('POST', '/api/v1/ota/enrollments', {
      credentialProfile: 'old-mail',
      user: { id: 'u-3003', displayName: 'New Hire', email: 'new@example.com' },
    });
    assert.equal(nobody.status, 400, nobody.body);
    assert.match(nobody.json().message as string, /delivers only earlier escrowed certificates, and this user has none/);
  });

  test('an address two directory people share is no one: the console user keeps a key of its own', async () => {
    const pat = await createPerson({ userName: 'pat', displayName: 'Pat One', email: 'team@example.com' });
    await createPerson({ userName: 'lee', displayName: 'Lee Two', email: 'team@example.com' });
    w.uem.addUser({ id: 57, uuid: 'c0000000-0000-4000-8000-000000000057', userName: 'team', email: 'team@example.com' });
    const ws1 = await ws1Enrollment(57, 'team@example.com');
    assert.deepEqual(await validEncryptionCertificates('57'), [ws1.encryption.serial]);
    const [collected] = await mobileId('pat', 'shared');
    assert.equal(collected!.kind, 'new');
    assert.notEqual(collected!.serial, ws1.encryption.serial);
    assert.deepEqual(await validEncryptionCertificates(pat), [collected!.serial]);
  });

  test('r&d@example.com is an address the directory and a console both take, and it maps like any other', async () => {
    const rnd = await createPerson({ userName: 'rnd', displayName: 'R&D', email: 'r&d@example.com' });
    w.uem.addUser({ id: 58, uuid: 'c0000000-0000-4000-8000-000000000058', userName: 'rnd', email: 'r&d@example.com' });
    const ws1 = await ws1Enrollment(58, 'R&D@example.com');
    const [collected] = await mobileId('rnd', 'shared');
    assert.equal(collected!.kind, 'existing');
    assert.equal(collected!.serial, ws1.encryption.serial);
    assert.deepEqual(await validEncryptionCertificates(rnd), [ws1.encryption.serial]);
  });
});
