/**
 * Imports taken back out of Intune when a device leaves, through a started
 * gateway against the Graph stand-in (test/helpers/intune-standins.ts),
 * which addresses an import only by the id its 201 answer gave: a DELETE
 * under another id form is a 404 and the import stays. The connector key is
 * the CNG blob Export-IntunePublicKey writes by default, so every import the
 * stand-in opens shows it was read as the connector host's key.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { intuneSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud, type PfxImport } from '../helpers/intune-standins.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '4b1e0c2a-14a6-49ae-97bc-6eba6914391e';
const CLIENT_SECRET = 'withdraw-app-secret-Zq8~';
const P12_PASSWORD = 'Intune-withdraw-pfx-9';
const COLLECTION = '/beta/deviceManagement/userPfxCertificates';

describe('Intune: withdrawing imports', () => {
  let cloud: IntuneCloud;
  let gw: TestGateway;

  const importsOf = (userId: string) => cloud.imports.filter((i) => i.userId === userId);
  const signingOf = (userId: string) => importsOf(userId).find((i) => i.body.intendedPurpose === 'smimeSigning');
  const deletes = (since: number) => cloud.requests.slice(since).filter((r) => r.method === 'DELETE');
  const withdrawnLines = (deliveryId: number) =>
    gw
      .logs()
      .split('\n')
      .filter((l) => l.includes('withdrawn from the MDM') && l.includes(`"deliveryId":${deliveryId}`));

  /** A user whose device enrolls with imports given ids of this form; resolves once the delivery is recorded. */
  const enroll = async (name: string, form: IntuneCloud['importIdForm']) => {
    cloud.importIdForm = form;
    const userId = `${name.padEnd(8, '0').slice(0, 8)}-0000-4000-8000-${'1'.repeat(12)}`;
    cloud.users.set(userId, { id: userId, userPrincipalName: `${name}@contoso.onmicrosoft.com`, mail: `${name}@contoso.com`, displayName: `User ${name}` });
    const deviceId = `dev-${name}`;
    cloud.devices.push({
      id: deviceId,
      userId,
      userPrincipalName: `${name}@contoso.onmicrosoft.com`,
      emailAddress: `${name}@contoso.com`,
      enrolledDateTime: '2024-05-02T10:00:00Z',
      operatingSystem: 'iOS',
    });
    const imports = await until(`${name}'s imports`, () => importsOf(userId).length === 2 && importsOf(userId), 10_000);
    const delivery = (await until(`${name}'s delivery`, () => gw.db('deliveries').where({ device_id: deviceId, status: 'delivered' }).first())) as {
      id: number;
      receipt: string;
    };
    return {
      userId,
      deviceId,
      imports,
      signing: imports.find((i) => i.body.intendedPurpose === 'smimeSigning')!,
      encryption: imports.find((i) => i.body.intendedPurpose === 'smimeEncryption')!,
      delivery,
    };
  };

  /** Rewrites the delivery's receipt as deliveries recorded it before import ids were kept: `<userId>-<thumbprint>`, comma-separated. */
  const makeLegacy = async (delivery: { id: number; receipt: string }, userId: string, imports: PfxImport[]) => {
    const receipt = JSON.parse(delivery.receipt) as { reference: string };
    receipt.reference = imports.map((i) => `${userId}-${i.body.thumbprint}`).join(',');
    await gw
      .db('deliveries')
      .where({ id: delivery.id })
      .update({ receipt: JSON.stringify(receipt) });
  };

  const leave = (deviceId: string) =>
    cloud.devices.splice(
      cloud.devices.findIndex((d) => d.id === deviceId),
      1,
    );

  before(async () => {
    const dir = tempDir();
    const tls = await makeTestTls();
    const caFile = writeTestTlsFiles(tls, dir).ca;
    cloud = await startIntuneCloud({ tls: tls.server, tenant: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, pageSize: 2 });
    // Export-IntunePublicKey without -FileFormat PEM: a binary CNG blob.
    writeFileSync(join(dir, 'PFXEncryptionKey.blob'), cloud.connectorPublicKeyCngBlob);
    writeConnectorFile(
      join(dir, 'connectors'),
      'intune',
      intuneSettings(cloud, {
        clientSecret: CLIENT_SECRET,
        trust: caFile,
        timeout: '3s',
        pkcs12: { format: 'modern', password: P12_PASSWORD },
        polling: { interval: '300ms', unenrollGuard: { atLeast: 2 } },
        connectorPublicKey: join(dir, 'PFXEncryptionKey.blob'),
      }),
    );
    gw = await startTestGateway({
      dir,
      overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '300ms' } } },
    });
  });
  after(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  test('with the CNG key blob as the connector key, the connector host opens every password; the receipt keeps the ids Graph gave', async () => {
    const alice = await enroll('alice', 'compact');
    for (const i of alice.imports) {
      assert.equal(i.password, P12_PASSWORD, 'decrypted with the private key of the exported blob');
      assert.ok(i.keyMatches);
    }
    assert.deepEqual(cloud.refused, []);
    const reference = (JSON.parse(alice.delivery.receipt) as { reference: string }).reference;
    for (const i of alice.imports) assert.ok(reference.includes(`"id":"${i.id}"`), `the receipt names import ${i.id}`);
  });

  test('a departed device: its signing import is deleted under the id Graph gave it (an opaque id as well), the encryption import stays', async () => {
    const bob = await enroll('bob', 'opaque');
    const since = cloud.requests.length;
    leave(bob.deviceId);
    await until('the signing import to be deleted', () => !signingOf(bob.userId), 10_000);
    assert.ok(
      importsOf(bob.userId).some((i) => i.id === bob.encryption.id),
      'the encryption import stays',
    );
    assert.deepEqual(
      deletes(since).map((r) => r.path),
      [`${COLLECTION}/${bob.signing.id}`],
      'one DELETE, by the id of the 201 answer',
    );
    await until('the withdrawal to be logged', () => withdrawnLines(bob.delivery.id).length === 1);
  });

  test("a delivery recorded before import ids were kept is withdrawn under the id forms of Microsoft's PFXImport sample, in turn", async () => {
    const carol = await enroll('carol', 'compact');
    await makeLegacy(carol.delivery, carol.userId, carol.imports);
    const since = cloud.requests.length;
    leave(carol.deviceId);
    await until('the signing import to be deleted', () => !signingOf(carol.userId), 10_000);
    const tp = carol.signing.body.thumbprint;
    assert.deepEqual(
      deletes(since).map((r) => r.path),
      [`${COLLECTION}/${carol.userId}-${tp}`, `${COLLECTION}/${carol.userId.replace(/-/g, '')}-${tp}`],
      'the README form answered 404, the cmdlet form deleted it',
    );
    assert.ok(importsOf(carol.userId).some((i) => i.id === carol.encryption.id));
  });

  test('a guessed id form Graph refuses as malformed (400) is passed over like a 404', async () => {
    const fay = await enroll('fay', 'compact');
    await makeLegacy(fay.delivery, fay.userId, fay.imports);
    const tp = fay.signing.body.thumbprint!;
    cloud.failNext(`DELETE ${COLLECTION}/${fay.userId}-${tp}`, 1, 400);
    leave(fay.deviceId);
    await until('the signing import to be deleted', () => !signingOf(fay.userId), 10_000);
    await until('the withdrawal to be logged', () => withdrawnLines(fay.delivery.id).length === 1);
  });

  test('a 404 is not taken for "gone": the import Intune still lists under another id is found and deleted by that id', async () => {
    const dave = await enroll('dave', 'opaque');
    await makeLegacy(dave.delivery, dave.userId, dave.imports);
    const since = cloud.requests.length;
    leave(dave.deviceId);
    await until('the signing import to be deleted', () => !signingOf(dave.userId), 10_000);
    const after = cloud.requests.slice(since);
    const tp = dave.signing.body.thumbprint!;
    const listing = after.findIndex((r) => r.method === 'GET' && r.path.startsWith(`${COLLECTION}?$filter=`) && decodeURIComponent(r.path).includes(tp));
    assert.ok(listing >= 0, "the user's imports of the thumbprint were listed");
    assert.equal(deletes(since).at(-1)?.path, `${COLLECTION}/${dave.signing.id}`, 'and the listed one deleted by its own id');
    assert.ok(importsOf(dave.userId).some((i) => i.id === dave.encryption.id));
    await until('the withdrawal to be logged', () => withdrawnLines(dave.delivery.id).length === 1);
  });

  test('while Intune answers 404 yet still lists the import, the withdrawal job fails and is retried, and only its end is logged as withdrawn', async () => {
    const erin = await enroll('erin', 'opaque');
    // Graph answering 404 to the import's own id while keeping it: four times, two job attempts' worth.
    cloud.failNext(`DELETE ${COLLECTION}/${erin.signing.id}`, 4, 404);
    leave(erin.deviceId);
    const job = (await until(
      'the withdrawal job to finish',
      async () => {
        const jobs = (await gw.db('jobs').where({ type: 'connector.withdraw', status: 'done' }).select('payload', 'attempts')) as {
          payload: string;
          attempts: number;
        }[];
        return jobs.find((j) => (JSON.parse(j.payload) as { deliveryId: number }).deliveryId === erin.delivery.id);
      },
      10_000,
    )) as { attempts: number };
    assert.equal(job.attempts, 3, 'two attempts failed while the import was still listed');
    assert.equal(signingOf(erin.userId), undefined, 'and the third deleted it');
    const lines = gw.logs().split('\n');
    const failures = lines.flatMap((l, at) =>
      l.includes('job failed; will retry') && l.includes(`is still listed in Intune for erin@contoso.onmicrosoft.com`) ? [at] : [],
    );
    assert.equal(failures.length, 2);
    const done = lines.findIndex((l) => l.includes('withdrawn from the MDM') && l.includes(`"deliveryId":${erin.delivery.id}`));
    assert.ok(done > failures[1]!, 'success is logged once, after the failures');
    assert.equal(withdrawnLines(erin.delivery.id).length, 1);
  });
});
