import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
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
        await trx('audit').insert({ at: Date.now(), actor: 'test', action: 'wal.fill', subject_type: 'test', subject_id: `${i}-${j}`, reason: 'x'.repeat(1000), detail: null });
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
