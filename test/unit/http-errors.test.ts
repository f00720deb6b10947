/** The express app's error contract, driven in-process with supertest. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import express, { Router } from 'express';
import request from 'supertest';
import { createApp } from '../../src/http/app.js';
import { badRequest } from '../../src/http/errors.js';
import { createLogger } from '../../src/observability/logger.js';

function app() {
  let logs = '';
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs += c.toString();
      cb();
    },
  });
  const router = Router();
  router.use(express.json({ limit: 64 }));
  router.post('/echo', (req, res) => {
    res.json({ got: req.body as unknown });
  });
  router.get('/client-mistake', () => {
    throw badRequest('serial must be hex');
  });
  router.get('/our-fault', async () => {
    throw new Error('database exploded: password=hunter2');
  });
  return { app: createApp({ log: createLogger({ level: 'info', destination: sink as never }), trustProxy: false, mounts: [{ path: '/t', router }] }), logs: () => logs };
}

describe('HTTP error contract', () => {
  test('client mistakes keep their 4xx status and say why', async () => {
    const { app: a } = app();
    const tooBig = await request(a).post('/t/echo').set('Content-Type', 'application/json').send(JSON.stringify({ x: 'y'.repeat(100) }));
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error, 'payload_too_large');
    const malformed = await request(a).post('/t/echo').set('Content-Type', 'application/json').send('{"a":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'malformed_body');
    const encoding = await request(a).post('/t/echo').set('Content-Type', 'application/json').set('Content-Encoding', 'bogus').send('{}');
    assert.equal(encoding.status, 415);
    const explicit = await request(a).get('/t/client-mistake');
    assert.deepEqual({ status: explicit.status, error: explicit.body.error, message: explicit.body.message }, { status: 400, error: 'bad_request', message: 'serial must be hex' });
    assert.equal((await request(a).get('/nowhere')).status, 404);
  });

  test('our own faults are a 500 with a request id and no internals; the detail goes to the log', async () => {
    const { app: a, logs } = app();
    const r = await request(a).get('/t/our-fault').set('X-Request-Id', 'req-42');
    assert.equal(r.status, 500);
    assert.deepEqual(r.body, { error: 'internal_error', message: 'internal error; quote the request id to an operator', requestId: 'req-42' });
    assert.match(logs(), /"msg":"unhandled error"/);
    assert.match(logs(), /database exploded/);
  });

  test('unsafe request ids are replaced, safe ones echoed', async () => {
    const { app: a } = app();
    const r = await request(a).get('/nowhere').set('X-Request-Id', 'bad id\twith "quotes"');
    assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
