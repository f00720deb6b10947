/**
 * Event intake on the embedded SQLite and on MariaDB: events that arrive
 * together share one transaction, and each caller still learns its own
 * outcome (stored, or a duplicate) only once its rows are committed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { MdmEvent } from '../../src/connectors/connector.js';
import { EVENT_JOB, EventIntake, InvalidEventError, MAX_DEVICE_ID, MAX_JSON_BYTES, MAX_USER_ID, MAX_VENDOR_TYPE } from '../../src/connectors/intake.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { openDb, type Db } from '../../src/store/db.js';
import { EventRepository } from '../../src/store/events.js';
import { JobRepository } from '../../src/store/jobs.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

const event = (device: string, type: MdmEvent['type'] = 'enrolled', time = '2024-06-01T12:00:00Z'): MdmEvent => ({
  connectorId: 'ws1',
  type,
  vendorType: type === 'unknown' ? 'Some New Event' : 'MDM Enrollment Complete',
  user: { email: 'zenny@example.com' },
  device: { id: device },
  occurredAt: new Date(time),
  dedupeKey: `148|${device}|${time}`,
});

for (const backend of STORE_BACKENDS) {
  describe(`event intake on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let intake: EventIntake;
    let woken = 0;
    const count = async (table: string) => Number(((await db(table).count({ n: '*' }).first()) as { n: number | string }).n);

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      const queue = new JobQueue(new JobRepository(db), 5);
      queue.onWake(() => (woken += 1));
      intake = new EventIntake({ db, events: new EventRepository(db), queue, log: pino({ level: 'silent' }) });
    });
    after(async () => {
      await close();
    });

    test('a burst of events, duplicates among them, each answered for itself', async () => {
      const devices = Array.from({ length: 300 }, (_, i) => `device-${i}`);
      // Every device twice, interleaved, all in flight at once: the second of each pair is a duplicate.
      const sent = [...devices, ...devices].map((d) => ({ d, p: intake.accept(event(d), { DeviceUUID: d }) }));
      const results = await Promise.all(sent.map((s) => s.p));
      const stored = results.filter((r) => !r.duplicate);
      assert.equal(stored.length, devices.length, 'one of each pair is stored');
      assert.equal(results.filter((r) => r.duplicate).length, devices.length, 'the other is a duplicate');
      assert.equal(new Set(stored.map((r) => r.eventId)).size, devices.length, 'distinct ids');
      for (const [i, r] of results.slice(0, devices.length).entries()) assert.equal(r.duplicate, false, `the first copy of device ${i} is the stored one`);
      assert.equal(await count('mdm_events'), devices.length);
      const jobs = (await db('jobs').where({ type: EVENT_JOB }).select('payload')) as { payload: string }[];
      assert.deepEqual(
        new Set(jobs.map((j) => (JSON.parse(j.payload) as { eventId: number }).eventId)),
        new Set(stored.map((r) => r.eventId)),
        'one job per stored event',
      );
      assert.ok(woken > 0, 'workers are woken');
    });

    test('an acknowledged event is committed: a second connection sees it', async () => {
      const r = await intake.accept(event('visible-device'), {});
      assert.equal(r.duplicate, false);
      const other = openDb(
        backend.name === 'sqlite'
          ? { client: 'sqlite', filename: (db.client.config.connection as { filename: string }).filename }
          : { client: 'mysql', url: (db.client.config.connection as { uri: string }).uri },
      );
      try {
        const row = (await other('mdm_events').where({ id: r.eventId }).first()) as { device_id: string } | undefined;
        assert.equal(row?.device_id, 'visible-device');
      } finally {
        await other.destroy();
      }
    });

    test('an event of an unknown type is stored without a job', async () => {
      const jobsBefore = await count('jobs');
      const r = await intake.accept(event('odd-device', 'unknown'), { EventType: 'Some New Event' });
      assert.equal(r.duplicate, false);
      assert.equal(await count('jobs'), jobsBefore);
    });

    test('one event the database refuses fails alone; the rest of its batch is stored', async () => {
      const before = await count('mdm_events');
      // A payload that cannot be serialised fails inside the shared transaction.
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const outcomes = await Promise.allSettled([
        intake.accept(event('batch-a'), {}),
        intake.accept(event('batch-bad'), circular),
        intake.accept(event('batch-c'), {}),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.equal(await count('mdm_events'), before + 2);
      assert.equal(await db('mdm_events').where({ device_id: 'batch-bad' }).first(), undefined, 'nothing of the refused event is stored');
    });

    test('a device id longer than the store keeps is refused, not cut short', async () => {
      const before = await count('mdm_events');
      await assert.rejects(intake.accept(event('x'.repeat(MAX_DEVICE_ID + 1)), {}), InvalidEventError);
      assert.equal(await count('mdm_events'), before);
      const longest = 'y'.repeat(MAX_DEVICE_ID);
      assert.equal((await intake.accept(event(longest), {})).duplicate, false);
      assert.equal(((await db('mdm_events').where({ device_id: longest }).first()) as { device_id: string }).device_id, longest);
    });

    test('a user id longer than the store keeps is refused too', async () => {
      const before = await count('mdm_events');
      const long = { ...event('long-user'), user: { id: 'u'.repeat(MAX_USER_ID + 1) } };
      await assert.rejects(intake.accept(long, {}), (err: unknown) => err instanceof InvalidEventError && /user id is 192 characters long/.test(err.message));
      assert.equal(await count('mdm_events'), before);
    });

    test('an event, user or device larger than the store keeps, or a longer event type, is refused on both databases alike', async () => {
      const before = await count('mdm_events');
      const big = 'b'.repeat(MAX_JSON_BYTES);
      const refused = [
        intake.accept(event('big-payload'), { DeviceUUID: 'big-payload', Note: big }),
        intake.accept({ ...event('big-user'), user: { email: 'zenny@example.com', userName: big } }, {}),
        intake.accept({ ...event('big-device'), device: { id: 'big-device', name: big } }, {}),
        intake.accept({ ...event('long-type'), vendorType: 't'.repeat(MAX_VENDOR_TYPE + 1) }, {}),
      ];
      for (const outcome of await Promise.allSettled(refused)) {
        assert.equal(outcome.status, 'rejected');
        assert.ok((outcome as PromiseRejectedResult).reason instanceof InvalidEventError, String((outcome as PromiseRejectedResult).reason));
      }
      assert.equal(await count('mdm_events'), before);
      // Just within the limits is stored.
      const within = await intake.accept({ ...event('within'), vendorType: 't'.repeat(MAX_VENDOR_TYPE) }, { Note: 'w'.repeat(MAX_JSON_BYTES - 20) });
      assert.equal(within.duplicate, false);
    });

    test('an event whose user or device text the field check refuses is rejected whichever connector made it; nothing is stored or queued', async () => {
      const before = { events: await count('mdm_events'), jobs: await count('jobs') };
      const refused: [Partial<MdmEvent>, RegExp][] = [
        [{ user: { email: 'zenny\u0000@example.com' } }, /^email address has a control character \(U\+0000\)$/],
        [{ user: { displayName: 'Zenny\u202eexe.txt' } }, /^display name has a bidirectional control character \(U\+202E\)$/],
        [{ user: { upn: 'zenny\ud800@corp.example' } }, /^user principal name has an unpaired surrogate/],
        [{ device: { id: 'text-check', name: 'iPhone\ufffd' } }, /^device name has U\+FFFD/],
        [{ device: { id: 'text-check\u0085' } }, /^device id has a control character \(U\+0085\)$/],
      ];
      for (const [change, says] of refused) {
        await assert.rejects(
          intake.accept({ ...event('text-check'), ...change }, {}),
          (err: unknown) => err instanceof InvalidEventError && says.test(err.message),
        );
      }
      assert.deepEqual({ events: await count('mdm_events'), jobs: await count('jobs') }, before);
    });

    test('dedupe keys longer than their column are kept whole (hashed): events that share a long prefix stay apart', async () => {
      const device = 'z'.repeat(180);
      const first = await intake.accept(event(device, 'enrolled', '2024-06-01T12:00:00Z'), {});
      const second = await intake.accept(event(device, 'enrolled', '2024-06-02T12:00:00Z'), {});
      const again = await intake.accept(event(device, 'enrolled', '2024-06-02T12:00:00Z'), {});
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, false, 'another time is another event');
      assert.equal(again.duplicate, true, 'the same event again is a duplicate');
    });
  });
}
