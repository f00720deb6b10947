/**
 * POST /api/v1/jobs/{id}/retry through a running gateway: a dead job runs
 * again; a queued, running or done one is refused with 409 and left as it was
 * (a queued job keeps its backoff and attempt count, nothing runs twice).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PermanentJobError } from '../../src/jobs/worker.js';
import { JobRepository } from '../../src/store/jobs.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { until } from '../helpers/wait.js';

const HOUR = 3_600_000;

describe('retrying a job through the admin API', () => {
  let gw: TestGateway;
  let release: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let ran = 0;
  let flaky = 0;

  before(async () => {
    gw = await startTestGateway({
      handlers: {
        'test.hold': () => held,
        'test.ok': async () => {
          ran += 1;
          return 'ok';
        },
        // Fails for good the first time, so the job is dead until an operator retries it.
        'test.flaky': async () => {
          flaky += 1;
          if (flaky === 1) throw new PermanentJobError('vendor said no');
          return 'ok';
        },
      },
    });
  });
  after(async () => {
    release();
    await gw.stop();
  });

  const retry = (id: number, requestId = `retry-${id}`) =>
    curl(`https://localhost:${gw.port}/api/v1/jobs/${id}/retry`, [...adminCurlArgs(join(gw.dir, 'certs')), '-X', 'POST', '-H', `X-Request-Id: ${requestId}`]);
  const job = (id: number) => new JobRepository(gw.db).get(id);
  const settled = (id: number, status: string) => until(`job ${id} ${status}`, async () => (await job(id))?.status === status, 10_000);

  test('a dead job is queued again with a fresh attempt budget and runs', async () => {
    const id = (await gw.queue.enqueue(gw.db, 'test.flaky', {}, { maxAttempts: 1 }))!;
    gw.queue.wake();
    await settled(id, 'dead');
    const r = await retry(id);
    assert.equal(r.status, 200, r.body);
    assert.equal((r.json().job as { id: number }).id, id);
    await settled(id, 'done');
    assert.equal((await job(id))?.attempts, 1, 'a fresh budget: this run is its first attempt');
    assert.equal(flaky, 2);
  });

  for (const [status, setUp] of [
    ['queued', async () => (await gw.queue.enqueue(gw.db, 'test.ok', {}, { runAt: Date.now() + HOUR }))!],
    [
      'running',
      async () => {
        const id = (await gw.queue.enqueue(gw.db, 'test.hold', {}))!;
        gw.queue.wake();
        await settled(id, 'running');
        return id;
      },
    ],
    [
      'done',
      async () => {
        const id = (await gw.queue.enqueue(gw.db, 'test.ok', {}))!;
        gw.queue.wake();
        await settled(id, 'done');
        return id;
      },
    ],
  ] as const) {
    test(`a ${status} job is refused with 409 and left as it was`, async () => {
      const id = await setUp();
      const before = await job(id);
      const ranBefore = ran;
      const r = await retry(id, `retry-${status}`);
      assert.equal(r.status, 409, r.body);
      // The error answer every route gives, with the request id an operator quotes.
      assert.deepEqual(r.json(), { error: 'conflict', message: `job ${id} is ${status}; only dead jobs can be retried`, requestId: `retry-${status}` });
      assert.deepEqual(await job(id), before, 'nothing changed');
      gw.queue.wake();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(await job(id), before, 'and nothing ran it');
      assert.equal(ran, ranBefore);
    });
  }

  test('a job that does not exist is 404', async () => {
    assert.equal((await retry(999_999)).status, 404);
  });
});
