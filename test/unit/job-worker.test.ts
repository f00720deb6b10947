/** The worker loop on SQLite: retries with backoff, dead letters, permanent failures. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { retryDelayMs } from '../../src/jobs/backoff.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { JobWorker, PermanentJobError, RetryLaterError } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import { migrate, openDb, type Db } from '../../src/store/db.js';
import { JobRepository, type Job } from '../../src/store/jobs.js';
import { tempDir } from '../helpers/tmp.js';

async function settle(repo: JobRepository, id: number, timeoutMs = 10_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await repo.get(id))!;
    if (job.status === 'done' || job.status === 'dead') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await sleep(10);
  }
}

describe('backoff', () => {
  test('grows exponentially, is capped, and is jittered below the ceiling', () => {
    const policy = { baseMs: 1000, maxMs: 60_000 };
    assert.equal(
      retryDelayMs(1, policy, () => 0.999999),
      999,
    );
    assert.equal(
      retryDelayMs(3, policy, () => 0.999999),
      3999,
    );
    assert.equal(
      retryDelayMs(30, policy, () => 0.999999),
      59_999,
    );
    assert.equal(
      retryDelayMs(5, policy, () => 0),
      0,
    );
    const samples = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, policy)));
    assert.ok(samples.size > 10, 'delays are spread out');
    for (const s of samples) assert.ok(s >= 0 && s < 8000);
  });
});

describe('job worker', () => {
  let db: Db;
  let repo: JobRepository;
  let queue: JobQueue;
  let worker: JobWorker;
  const calls = new Map<string, number>();
  const attemptsAt: number[] = [];

  before(async () => {
    db = openDb({ client: 'sqlite', filename: join(tempDir(), 'worker.db') });
    await migrate(db);
    repo = new JobRepository(db);
    queue = new JobQueue(repo, 3);
    worker = new JobWorker(
      repo,
      queue,
      { concurrency: 2, pollIntervalMs: 1000, leaseMs: 10_000, backoff: { baseMs: 20, maxMs: 50 } },
      createLogger({ level: 'silent' }),
    );
    const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1).get(key)!;
    worker.register('flaky', async (payload) => {
      const n = count(String((payload as { key: string }).key));
      if (n < 3) throw new Error(`transient failure ${n}`);
      return { succeededOn: n };
    });
    worker.register('always-fails', async () => {
      count('always');
      throw new Error('upstream 503');
    });
    worker.register('rejected', async () => {
      count('rejected');
      throw new PermanentJobError('vendor answered 400', { status: 400, body: 'bad certificate' });
    });
    worker.register('busy', async () => {
      attemptsAt.push(Date.now());
      if (attemptsAt.length === 1) throw new RetryLaterError('vendor answered 429', 2500);
      return 'ok';
    });
    worker.start();
  });
  after(async () => {
    await worker.stop();
    await db.destroy();
  });

  test('a handler registered twice is an error', () => {
    assert.throws(() => worker.register('flaky', async () => undefined), /already registered/);
  });

  test('transient failures are retried until they succeed', async () => {
    const id = (await queue.enqueue(db, 'flaky', { key: 'a' }))!;
    queue.wake();
    const job = await settle(repo, id);
    assert.equal(job.status, 'done');
    assert.equal(job.attempts, 3);
    assert.deepEqual(job.result, { succeededOn: 3 });
  });

  test('after maxAttempts the job is dead with its last error kept', async () => {
    const id = (await queue.enqueue(db, 'always-fails', {}))!;
    queue.wake();
    const job = await settle(repo, id);
    assert.equal(job.status, 'dead');
    assert.equal(job.attempts, 3);
    assert.equal(job.lastError, 'upstream 503');
    assert.equal(calls.get('always'), 3);
  });

  test('a permanent failure ends the job at once, keeping the detail', async () => {
    const id = (await queue.enqueue(db, 'rejected', {}))!;
    queue.wake();
    const job = await settle(repo, id);
    assert.equal(job.status, 'dead');
    assert.equal(job.attempts, 1);
    assert.equal(job.lastError, 'vendor answered 400: {"status":400,"body":"bad certificate"}');
  });

  test('a retry asked for later waits that long, though the backoff is shorter', async () => {
    const id = (await queue.enqueue(db, 'busy', {}))!;
    queue.wake();
    const job = await settle(repo, id);
    assert.equal(job.status, 'done');
    assert.equal(attemptsAt.length, 2);
    assert.ok(attemptsAt[1]! - attemptsAt[0]! >= 2500, `retried after ${attemptsAt[1]! - attemptsAt[0]!} ms`);
  });

  test('a job of an unknown type is dead, not retried forever', async () => {
    const id = (await queue.enqueue(db, 'nobody-handles-this', {}))!;
    queue.wake();
    const job = await settle(repo, id);
    assert.equal(job.status, 'dead');
    assert.match(job.lastError ?? '', /no handler for job type "nobody-handles-this"/);
  });

  test('a dead job retried by an operator runs again', async () => {
    const id = (await queue.enqueue(db, 'flaky', { key: 'b' }, { maxAttempts: 1 }))!;
    queue.wake();
    assert.equal((await settle(repo, id)).status, 'dead');
    for (let i = 0; i < 2; i++) {
      assert.equal(await repo.retry(id), true);
      queue.wake();
      await settle(repo, id);
    }
    assert.equal((await repo.get(id))?.status, 'done');
  });
});

describe('job leases', () => {
  test('a handler that outlives its lease keeps the job: another worker never runs it twice', async () => {
    const db = openDb({ client: 'sqlite', filename: join(tempDir(), 'lease.db') });
    await migrate(db);
    const repo = new JobRepository(db);
    const queue = new JobQueue(repo, 3);
    const opts = { concurrency: 1, pollIntervalMs: 20, leaseMs: 150, backoff: { baseMs: 20, maxMs: 50 } };
    const runs: string[] = [];
    const workers = ['a', 'b'].map((name) => {
      const w = new JobWorker(repo, queue, opts, createLogger({ level: 'silent' }));
      w.register('slow', async () => {
        runs.push(name);
        await sleep(700); // several leases long
        return name;
      });
      return w;
    });
    try {
      for (const w of workers) w.start();
      const id = (await queue.enqueue(db, 'slow', {}))!;
      queue.wake();
      const job = await settle(repo, id);
      assert.equal(job.status, 'done');
      assert.equal(job.attempts, 1, 'claimed once');
      assert.equal(runs.length, 1, `ran once, not by both workers: ${runs.join(', ')}`);
    } finally {
      for (const w of workers) await w.stop();
      await db.destroy();
    }
  });
});
