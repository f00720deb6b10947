/** /readyz is public: a failing check says "failed" and nothing of why; the reason goes to the log. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { opsRouter } from '../../src/http/routes/ops.js';
import { createLogger } from '../../src/observability/logger.js';

test('a failed readiness check tells an anonymous caller nothing of its cause', async () => {
  let logged = '';
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write: (c: Buffer, _e, cb) => {
        logged += c.toString();
        cb();
      },
    }) as never,
  });
  const reason = "Access denied for user 'credgate'@'10.20.30.40' (using password: YES) to db-primary.internal:3306";
  const app = express().use(
    opsRouter({
      log,
      checks: () => [
        { name: 'database', check: () => Promise.reject(new Error(reason)) },
        { name: 'workers', check: async () => 'running' },
      ],
    }),
  );
  const r = await request(app).get('/readyz');
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { status: 'not ready', checks: { database: 'failed', workers: 'running' } });
  assert.ok(!JSON.stringify(r.body).includes('10.20.30.40'));
  assert.match(logged, /readiness check failed/);
  assert.ok(logged.includes('db-primary.internal'), 'the operator finds the reason in the log');
});
