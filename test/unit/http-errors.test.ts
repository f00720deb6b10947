/** The express app's error contract, driven in-process with supertest. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import express, { Router } from 'express';
import request from 'supertest';
import { createApp } from '../../src/http/app.js';
import { badRequest } from '../../src/http/errors.js';
import { IdentityError } from '../../src/identity/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { IssuanceError } from '../../src/pki/issuer.js';
import { StatusChangeError } from '../../src/pki/revoker.js';
import { OtaError } from '../../src/protocols/ota/service.js';
import { ScepDecisionError } from '../../src/protocols/scep/service.js';
import { REPO } from '../helpers/cli.js';

/** What each domain's refusal is to a client, whichever route lets it out: [the error, status, code, Retry-After]. */
const REFUSALS: [Error, number, string, string | undefined][] = [
  [new IdentityError('bad_request', 'a'), 400, 'bad_request', undefined],
  [new IdentityError('unauthorized', 'b'), 401, 'unauthorized', undefined],
  [new IdentityError('forbidden', 'c'), 403, 'forbidden', undefined],
  [new IdentityError('not_found', 'd'), 404, 'not_found', undefined],
  [new IdentityError('conflict', 'e'), 409, 'conflict', undefined],
  [new IdentityError('gone', 'f'), 410, 'gone', undefined],
  [new IdentityError('locked', 'g'), 423, 'locked', undefined],
  [new IdentityError('rate_limited', 'h', 42), 429, 'rate_limited', '42'],
  [new IdentityError('unavailable', 'i', 5), 503, 'unavailable', '5'],
  [new OtaError('not_ready', 'j'), 409, 'not_ready', undefined],
  [new OtaError('gone', 'k'), 410, 'gone', undefined],
  [new IssuanceError('l'), 400, 'bad_request', undefined],
  [new StatusChangeError('not_found', 'm'), 404, 'not_found', undefined],
  [new StatusChangeError('conflict', 'n'), 409, 'conflict', undefined],
  [new StatusChangeError('bad_request', 'o'), 400, 'bad_request', undefined],
  [new ScepDecisionError('not_found', 'p'), 404, 'not_found', undefined],
  [new ScepDecisionError('conflict', 'q'), 409, 'conflict', undefined],
];

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
  router.get('/refusal/:n', (req) => {
    throw REFUSALS[Number(req.params.n)]![0];
  });
  router.get('/our-fault', async () => {
    throw new Error('database exploded: password=hunter2');
  });
  return {
    app: createApp({ log: createLogger({ level: 'info', destination: sink as never }), trustProxy: false, mounts: [{ path: '/t', router }] }),
    logs: () => logs,
  };
}

describe('HTTP error contract', () => {
  test('client mistakes keep their 4xx status and say why', async () => {
    const { app: a } = app();
    const tooBig = await request(a)
      .post('/t/echo')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ x: 'y'.repeat(100) }));
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error, 'payload_too_large');
    const malformed = await request(a).post('/t/echo').set('Content-Type', 'application/json').send('{"a":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'malformed_body');
    const encoding = await request(a).post('/t/echo').set('Content-Type', 'application/json').set('Content-Encoding', 'bogus').send('{}');
    assert.equal(encoding.status, 415);
    const explicit = await request(a).get('/t/client-mistake');
    assert.deepEqual(
      { status: explicit.status, error: explicit.body.error, message: explicit.body.message },
      { status: 400, error: 'bad_request', message: 'serial must be hex' },
    );
    assert.equal((await request(a).get('/nowhere')).status, 404);
  });

  test('a domain refusal thrown from any route is its 4xx or 503, never a 500: the kind is the code, a wait is Retry-After', async () => {
    const { app: a, logs } = app();
    for (const [i, [err, status, code, retryAfter]] of REFUSALS.entries()) {
      const r = await request(a).get(`/t/refusal/${i}`).set('X-Request-Id', `refusal-${i}`);
      const what = `${err.constructor.name} ${code}`;
      assert.equal(r.status, status, what);
      assert.deepEqual(r.body, { error: code, message: err.message, requestId: `refusal-${i}` }, what);
      assert.equal(r.headers['retry-after'], retryAfter, what);
    }
    assert.doesNotMatch(logs(), /unhandled error/, 'a refusal is an answer, not a fault to log');
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

  test('no route writes a JSON error answer of its own: they throw, and errorHandler answers', () => {
    const sources = ['src', 'connectors'].flatMap((dir) =>
      readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(dir, f)),
    );
    const own = sources.flatMap((f) =>
      readFileSync(join(REPO, f), 'utf8')
        .split('\n')
        .map((line, i) => (/\.status\(\s*[45]\d\d\s*\)[^;]*\.json\(/.test(line) ? `${f}:${i + 1}` : undefined))
        .filter((l) => l !== undefined),
    );
    assert.ok(sources.includes(join('src', 'http', 'errors.ts')), 'the scan sees the tree');
    assert.deepEqual(own, []);
  });
});
