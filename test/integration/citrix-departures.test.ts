/**
 * XenMobile departures whose device record fails the field text check: a
 * name that fails leaves the event without it but never stops the
 * unenrollment; a device link that fails is skipped with a warning naming
 * the field, and the other departures of the same poll go on.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { DevicePoller } from '../../connectors/citrix/device-poller.js';
import { citrixSchema } from '../../connectors/citrix/schema.js';
import { KnownDeviceRepository } from '../../connectors/citrix/store.js';
import type { XenMobileApi, XmDevice } from '../../connectors/citrix/xenmobile-api.js';
import { EventIntake } from '../../src/connectors/intake.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { migrate, openDb, type Db } from '../../src/store/db.js';
import { EventRepository } from '../../src/store/events.js';
import { JobRepository } from '../../src/store/jobs.js';
import { STORE_BACKENDS } from '../helpers/mariadb.js';

const settings = citrixSchema.parse({
  kind: 'citrix',
  inbound: { basic: [{ username: 'xms', password: 'pki-entity-password' }] },
  certsrv: { templates: { 'credgate-device': 'device-identity' } },
  xenmobile: { url: 'https://xms.example.com:4443', login: 'api', password: 'api-password' },
});

describe('XenMobile departures and the field text check', () => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let logged = '';
  let listed: XmDevice[] = [];
  let poller: DevicePoller;

  before(async () => {
    const s = await STORE_BACKENDS[0]!.open();
    cleanup = s.cleanup;
    db = openDb(s.settings);
    await migrate(db);
    const log = pino(
      { level: 'info' },
      new Writable({
        write: (chunk: Buffer, _e, cb) => {
          logged += chunk.toString();
          cb();
        },
      }),
    );
    const intake = new EventIntake({ db, events: new EventRepository(db), queue: new JobQueue(new JobRepository(db), 5), log });
    const api = { listDevices: async () => listed, device: async (id: string) => listed.find((d) => String(d.id) === id) } as unknown as XenMobileApi;
    poller = new DevicePoller({ connectorId: 'xm', api, known: new KnownDeviceRepository(db, 'xm'), intake, settings, log });
  });
  after(async () => {
    await db.destroy();
    await cleanup();
  });

  test('a retired device named with U+202E is unenrolled without the name; one whose serial number (its link) has NUL is skipped, and the others still leave', async () => {
    const active = { platform: 'iOS', deviceModel: 'iPhone', managed: true, mdmKnown: true, properties: [] };
    listed = [
      { id: 201, serialNumber: 'F2LXK1AAAA01', userName: 'jdoe', deviceName: 'iPhone\u202egpj.exe', ...active },
      { id: 202, serialNumber: 'F2LX\u0000K1AAAA02', userName: 'jdoe', deviceName: 'work phone', ...active },
      { id: 203, serialNumber: 'F2LXK1AAAA03', userName: 'asmith\ud800', deviceName: 'iPad', ...active },
    ];
    await poller.pollOnce();
    listed = listed.map((d) => ({ ...d, managed: false }));
    const result = await poller.pollOnce();
    assert.deepEqual(result.retired.sort(), ['201', '202', '203']);

    const events = (await db('mdm_events').where({ connector_id: 'xm' }).orderBy('id')) as {
      device_id: string;
      type: string;
      user: string;
      device: string;
      payload: string;
    }[];
    assert.deepEqual(
      events.map((e) => [e.device_id, e.type]),
      [
        ['F2LXK1AAAA01', 'unenrolled'],
        ['F2LXK1AAAA03', 'unenrolled'],
      ],
    );
    assert.deepEqual(JSON.parse(events[0]!.device), { id: 'F2LXK1AAAA01', serialNumber: 'F2LXK1AAAA01', platform: 'iOS', model: 'iPhone' });
    assert.equal(JSON.parse(events[0]!.payload).deviceName, undefined, 'the stored payload leaves it out too');
    assert.deepEqual(JSON.parse(events[1]!.user), {});

    const lines = logged
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const dropped = lines.filter((l) => String(l.msg).includes('without the fields that failed'));
    assert.deepEqual(
      dropped.map((l) => [l.xmId, l.left]),
      [
        ['201', [{ field: 'deviceName', problem: 'device name has a bidirectional control character (U+202E)' }]],
        ['203', [{ field: 'userName', problem: 'user name has an unpaired surrogate (half of a UTF-16 pair)' }]],
      ],
    );
    const skipped = lines.find((l) => l.xmId === '202' && l.level === 40)!;
    assert.equal(skipped.field, 'serialNumber');
    assert.match(String(skipped.reason), /device id has a control character \(U\+0000\)/);
    assert.equal(skipped.device, undefined, 'the failing value is not logged');
  });
});
