import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkpointInBackground, migrate, openDb, type Db } from '../../src/store/db.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

/** ~2 MB of rows: well below SQLite's own 1000-page autocheckpoint, so only a checkpointer moves them into the database file. */
async function writeRows(db: Db): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await db.transaction(async (trx) => {
      for (let j = 0; j < 50; j++) {
        await trx('audit').insert({
          at: Date.now(),
          actor: 'test',
          action: 'wal.fill',
          subject_type: 'test',
          subject_id: `${i}-${j}`,
          reason: 'x'.repeat(1000),
          detail: null,
        });
      }
    });
  }
}

const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);

describe('SQLite WAL checkpoints on a worker thread', () => {
  it('committed pages reach the database file while the gateway keeps writing, and stop() ends the worker', async () => {
    const filename = join(tempDir(), 'credgate.db');
    const db = openDb({ client: 'sqlite', filename });
    await migrate(db);
    const errors: string[] = [];
    const checkpoints = await checkpointInBackground(db, { client: 'sqlite', filename }, (m) => errors.push(m));
    assert.ok(checkpoints, 'a checkpointer for an SQLite file');
    const before = size(filename);
    await writeRows(db);
    assert.ok(size(`${filename}-wal`) > 2_000_000, 'the rows are in the WAL');
    await until('the database file to hold the rows', () => size(filename) > before + 2_000_000, 5_000);
    const [{ n }] = (await db('audit').where({ action: 'wal.fill' }).count({ n: '*' })) as [{ n: number }];
    assert.equal(Number(n), 2000);
    await checkpoints.stop();
    await db.destroy();
    assert.deepEqual(errors, []);

    const reopened = openDb({ client: 'sqlite', filename });
    const [{ m }] = (await reopened('audit').where({ action: 'wal.fill' }).count({ m: '*' })) as [{ m: number }];
    assert.equal(Number(m), 2000, 'every row survives a restart');
    await reopened.destroy();
  });

  it('a steady stream of commits does not grow the WAL without end: it starts over', async (t) => {
    const filename = join(tempDir(), 'credgate.db');
    const db = openDb({ client: 'sqlite', filename });
    await migrate(db);
    const errors: string[] = [];
    // Restart past 256 frames (1 MiB) so a few seconds of writing cross it many times.
    const checkpoints = (await checkpointInBackground(db, { client: 'sqlite', filename }, (m) => errors.push(m), { everyMs: 50, restartFrames: 256 }))!;
    t.after(async () => {
      await checkpoints.stop();
      await db.destroy();
    });
    const wal = `${filename}-wal`;
    // The WAL header's checkpoint sequence number (bytes 12-15) goes up each time the WAL starts over.
    const restarts = () => (size(wal) >= 32 ? readFileSync(wal).readUInt32BE(12) : 0);
    const first = restarts();
    let written = 0;
    let largest = 0;
    const until = Date.now() + 3_000;
    // One small transaction after another with no pause between them, as intake under load: some
    // frame is always newer than what a PASSIVE checkpoint copied, so without a restart nothing resets.
    while (Date.now() < until) {
      await db('audit').insert({
        at: Date.now(),
        actor: 'test',
        action: 'wal.stream',
        subject_type: 'test',
        subject_id: String(written),
        reason: 'x'.repeat(2000),
        detail: null,
      });
      written += 1;
      if (written % 200 === 0) largest = Math.max(largest, size(wal));
    }
    const walBytesWritten = written * 4096; // at least a page a commit
    assert.ok(walBytesWritten > 8 * 1024 * 1024, `the stream wrote enough to need restarts (${written} commits)`);
    assert.ok(restarts() - first >= 3, `the WAL started over (${restarts() - first} times)`);
    assert.ok(largest < walBytesWritten / 2, `the WAL stayed small (${largest} bytes at most, ${walBytesWritten} written)`);
    assert.deepEqual(errors, []);
  });

  it('without it, the same writes stay in the WAL (what the test above would see if the worker did nothing)', async () => {
    const filename = join(tempDir(), 'credgate.db');
    const db = openDb({ client: 'sqlite', filename });
    await migrate(db);
    await db.raw('PRAGMA wal_autocheckpoint = 0');
    const before = size(filename);
    await writeRows(db);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.ok(size(filename) < before + 500_000, 'no checkpoint ran');
    await db.destroy();
  });
});
