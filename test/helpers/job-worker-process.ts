/**
 * A worker process for crash and concurrency tests: the real JobWorker on the
 * database given in CREDGATE_TEST_DB (JSON of database settings). Its one
 * handler, "test.record", sleeps payload.sleepMs on the first attempt and
 * then records the run in test_job_runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { JobQueue } from '../../src/jobs/queue.js';
import { JobWorker } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import { migrate, openDb } from '../../src/store/db.js';
import { JobRepository } from '../../src/store/jobs.js';

const settings = JSON.parse(process.env.CREDGATE_TEST_DB ?? '{}');
const db = openDb(settings);
await migrate(db);
if (!(await db.schema.hasTable('test_job_runs'))) {
  await db.schema
    .createTable('test_job_runs', (t) => {
      t.increments('id');
      t.bigInteger('job_id').notNullable();
      t.string('worker', 64).notNullable();
      t.integer('attempt').notNullable();
    })
    .catch(() => undefined); // the other worker process may have won the race
}
const repo = new JobRepository(db);
const log = createLogger({ level: 'warn' });
const worker = new JobWorker(
  repo,
  new JobQueue(repo, 5),
  {
    concurrency: Number(process.env.CREDGATE_TEST_CONCURRENCY ?? 2),
    pollIntervalMs: 20,
    leaseMs: Number(process.env.CREDGATE_TEST_LEASE_MS ?? 60_000),
    backoff: { baseMs: 10, maxMs: 100 },
  },
  log,
);
worker.register('test.record', async (payload, { job }) => {
  const { sleepMs = 0 } = (payload ?? {}) as { sleepMs?: number };
  if (job.attempts === 1 && sleepMs > 0) await sleep(sleepMs);
  await db('test_job_runs').insert({ job_id: job.id, worker: worker.id, attempt: job.attempts });
  return { worker: worker.id };
});
worker.start();
process.stdout.write(`${JSON.stringify({ ready: true, worker: worker.id })}\n`);
process.on('SIGTERM', () => {
  void worker
    .stop(5_000)
    .then(() => db.destroy())
    .then(() => process.exit(0));
});
