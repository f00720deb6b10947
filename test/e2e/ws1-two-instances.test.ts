/**
 * Two gateway instances on one MariaDB, as the scale-out story has it: both
 * take Workspace ONE events, both run workers on the shared queue. Devices
 * of one user enrolling on both at once must still end up with one shared
 * encryption credential (a per-user lock the database holds), and every
 * device gets exactly one upload.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freshMysqlDatabase, type TestDatabase } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, startEscrowGateway, writeTestTlsFiles, type EscrowGatewayHandle } from '../helpers/ws1-standins.js';
import { until } from '../helpers/wait.js';

const EVENTS_PASSWORD = 'console-events-pw-two';
const USERS = 4;
const DEVICES_PER_USER = 4;

describe('Workspace ONE on two gateway instances sharing one MariaDB', () => {
  let database: TestDatabase;
  let eg: EscrowGatewayHandle;
  const gateways: TestGateway[] = [];
  let dir: string;

  before(async () => {
    dir = tempDir();
    database = await freshMysqlDatabase();
    const tls = await makeTestTls();
    const files = writeTestTlsFiles(tls, dir);
    eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1',
      ws1Settings({
        eventsPassword: EVENTS_PASSWORD,
        pkcs12: { format: 'modern', password: 'eg-profile-password' },
        escrowGateway: escrowGatewayOf(eg.url, tls, files),
      }),
    );
    const overrides = {
      database: { client: 'mysql', url: database.url },
      connectors: { dir: join(dir, 'connectors') },
      // Keys made on demand: the check-then-issue window is a whole key generation wide.
      jobs: { workers: 4, pollInterval: '50ms', backoff: { base: '100ms', max: '400ms' } },
    };
    // The first start writes the dev PKI; the second instance shares it, as instances share a CA.
    gateways.push(await startTestGateway({ dir, overrides }));
    gateways.push(await startTestGateway({ dir, overrides }));
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await eg?.stop();
    await database?.drop();
  });

  test('one encryption credential per user, one upload per device, whichever instance took the event', async () => {
    const events = [];
    for (let u = 0; u < USERS; u++) {
      for (let d = 0; d < DEVICES_PER_USER; d++) {
        events.push({
          EventId: 148,
          EventType: 'MDM Enrollment Complete',
          DeviceId: 100 * u + d,
          EnrollmentEmailAddress: `user${u}@example.com`,
          EnrollmentUserName: `user${u}`,
          EnrollmentUserId: 500 + u,
          EventTime: '2024-06-01T12:00:00Z',
          DeviceUUID: `0e000000-0000-4000-8000-0000000${u}0${d}`.padEnd(36, '0'),
          EnrollmentUserUUID: `0f000000-0000-4000-8000-00000000000${u}`,
        });
      }
    }
    // Alternate instances, all at once.
    const answers = await Promise.all(
      events.map((e, i) =>
        curl(`https://localhost:${gateways[i % 2]!.port}/connectors/ws1/events`, [
          '--cacert',
          join(dir, 'certs/root-ca.pem'),
          '-u',
          `ws1-events:${EVENTS_PASSWORD}`,
          '-H',
          'Content-Type: application/json',
          '--data-binary',
          JSON.stringify(e),
        ]),
      ),
    );
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]));
    await until(`uploads for all ${events.length} devices`, () => new Set(eg.uploads.map((u) => u.deviceUuid)).size === events.length, 120_000, 250);
    const db = gateways[0]!.db;
    await until(
      'the queue to settle',
      async () => Number(((await db('jobs').whereIn('status', ['queued', 'running']).count({ n: '*' }).first()) as { n: number }).n) === 0,
      20_000,
    );

    const byUser = (await db('certificates').where({ template: 'smime-encryption' }).select('user_id').count({ n: '*' }).groupBy('user_id')) as {
      user_id: string;
      n: number;
    }[];
    assert.equal(byUser.length, USERS);
    for (const r of byUser) assert.equal(Number(r.n), 1, `user ${r.user_id} has one encryption credential`);
    assert.equal(
      Number(((await db('certificates').where({ template: 'smime-signing' }).count({ n: '*' }).first()) as { n: number }).n),
      events.length,
      'one signing credential per device',
    );
    const perDevice = new Map<string, number>();
    for (const u of eg.uploads) perDevice.set(u.deviceUuid, (perDevice.get(u.deviceUuid) ?? 0) + 1);
    assert.deepEqual(
      [...perDevice.values()].filter((n) => n !== 1),
      [],
      'exactly one upload per device',
    );
    // Both instances ran enrollment jobs: the race was across instances, not only within one.
    for (const [i, g] of gateways.entries()) {
      const done = g
        .logs()
        .split('\n')
        .filter((l) => l.includes('"job done"') && l.includes('"mdm.event"')).length;
      assert.ok(done > 0, `instance ${i + 1} ran enrollment jobs`);
    }
  });
});
