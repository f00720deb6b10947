/** Admission: how many tasks run at once, in what order the others start, and when it refuses. */
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';
import { Admission, Busy } from '../../src/util/admission.js';

/** A task that records when it starts and finishes only when released. */
function gated(log: number[], id: number) {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  const task = async () => {
    log.push(id);
    await done;
    return id;
  };
  return { task, release: () => release() };
}

test('at most `concurrency` tasks run at once; the others start in arrival order', async () => {
  const a = new Admission(2, 10);
  const started: number[] = [];
  const tasks = [1, 2, 3, 4, 5].map((id) => gated(started, id));
  const results = tasks.map((t) => a.run(t.task));
  await tick();
  assert.deepEqual(started, [1, 2]);
  tasks[1]!.release();
  await tick();
  assert.deepEqual(started, [1, 2, 3], 'a finished task makes room for the oldest waiting one');
  tasks[0]!.release();
  await tick();
  assert.deepEqual(started, [1, 2, 3, 4]);
  for (const t of tasks) t.release();
  assert.deepEqual(await Promise.all(results), [1, 2, 3, 4, 5]);
});

test('past concurrency + maxQueued it refuses with Busy, and admits again once the queue drains', async () => {
  const a = new Admission(1, 1);
  const started: number[] = [];
  const first = gated(started, 1);
  const second = gated(started, 2);
  const running = a.run(first.task);
  const waiting = a.run(second.task);
  await assert.rejects(
    a.run(async () => 3),
    (err) => err instanceof Busy && /1 requests are already waiting/.test(err.message),
  );
  first.release();
  second.release();
  assert.deepEqual(await Promise.all([running, waiting]), [1, 2]);
  assert.equal(await a.run(async () => 4), 4);
  assert.deepEqual(started, [1, 2], 'the refused task never ran');
});

test('a task that fails frees its place', async () => {
  const a = new Admission(1, 0);
  await assert.rejects(
    a.run(async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await a.run(async () => 'next'), 'next');
});
