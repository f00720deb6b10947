/**
 * The durable queue across real processes: a job survives its worker being
 * killed, and two workers sharing MariaDB never run the same job twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { migrate, openDb, type Db, type DbSettings } from '../../src/store/db.js';
import { JobRepository } from '../../src/store/jobs.js';
import { waitForLog, stop } from '../helpers/cli.js';
import { freshMysqlDatabase } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const WORKER = fileURLToPath(new URL('../helpers/job-worker-process.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

async function startWorker(settings: DbSettings, env: Record<string, string> = {}): Promise<{ child: ChildProcess; id: string }> {
  const child = spawn(process.execPath, ['--import', TSX, WORKER], {
    env: { ...process.env, CREDGATE_TEST_DB: JSON.stringify(settings), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await waitForLog(child, (l) => l.ready === true);
  return { child, id: String(ready.worker) };
}

describe('job durability', () => {
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
  });

  test('a job whose worker is killed mid-run, and one enqueued while no worker runs, both run after restart', async () => {
    const settings: DbSettings = { client: 'sqlite', filename: join(tempDir(), 'jobs.db') };
    const db: Db = openDb(settings);
    await migrate(db);
    const jobs = new JobRepository(db);
    try {
      const first = await startWorker(settings, { CREDGATE_TEST_LEASE_MS: '1500' });
      children.push(first.child);
      const interrupted = (await jobs.insert(db, { type: 'test.record', payload: { sleepMs: 30_000 }, maxAttempts: 5 }))!;
      await until('the first worker to claim the job', async () => (await jobs.get(interrupted))?.leaseOwner === first.id, 60_000);

      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      const waiting = (await jobs.insert(db, { type: 'test.record', payload: {}, maxAttempts: 5 }))!;
      assert.equal((await jobs.get(interrupted))?.status, 'running', 'the dead worker still holds the lease');

      const second = await startWorker(settings, { CREDGATE_TEST_LEASE_MS: '1500' });
      children.push(second.child);
      for (const id of [interrupted, waiting]) {
        const job = await until(
          `job ${id} to finish`,
          async () => {
            const j = await jobs.get(id);
            return j?.status === 'done' ? j : undefined;
          },
          60_000,
        );
        assert.deepEqual(job.result, { worker: second.id });
      }
      const runs = await db('test_job_runs').select('job_id', 'worker', 'attempt').orderBy('job_id');
      assert.deepEqual(
        runs.map((r: { job_id: number; worker: string; attempt: number }) => [Number(r.job_id), r.worker, r.attempt]),
        [
          [interrupted, second.id, 2],
          [waiting, second.id, 1],
        ],
      );
      await stop(second.child);
    } finally {
      await db.destroy();
    }
  });

  test('two worker processes on MariaDB run each of 1,000 jobs exactly once', async () => {
    const database = await freshMysqlDatabase();
    const settings: DbSettings = { client: 'mysql', url: database.url, pool: { min: 0, max: 6 } };
    const db = openDb(settings);
    try {
      await migrate(db);
      const jobs = new JobRepository(db);
      await db.transaction(async (trx) => {
        const rows = Array.from({ length: 1000 }, (_, i) => ({
          type: 'test.record',
          payload: JSON.stringify({ n: i }),
          status: 'queued',
          attempts: 0,
          max_attempts: 5,
          available_at: Date.now(),
          created_at: Date.now(),
          updated_at: Date.now(),
        }));
        await trx.batchInsert('jobs', rows, 200);
      });
      const workers = [await startWorker(settings, { CREDGATE_TEST_CONCURRENCY: '4' }), await startWorker(settings, { CREDGATE_TEST_CONCURRENCY: '4' })];
      children.push(...workers.map((w) => w.child));
      await until('all 1,000 jobs to be done', async () => (await jobs.countByStatus()).done === 1000, 120_000);
      const runs = (await db('test_job_runs').select('job_id', 'worker')) as { job_id: number; worker: string }[];
      assert.equal(runs.length, 1000, 'one run per job');
      assert.equal(new Set(runs.map((r) => Number(r.job_id))).size, 1000, 'no job ran twice');
      for (const w of workers) {
        const mine = runs.filter((r) => r.worker === w.id).length;
        assert.ok(mine > 0, `worker ${w.id} ran some jobs (${mine})`);
      }
      await Promise.all(workers.map((w) => stop(w.child)));
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});
