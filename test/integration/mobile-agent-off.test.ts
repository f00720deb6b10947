/** maxSessions 0 turns mobile issuance off (503 with Retry-After); mobile.enabled false removes /mobile/v1; bad session input is a 400. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { curl } from '../helpers/curl.js';
import { startTestGateway } from '../helpers/gateway.js';

const start = (url: string, dir: string, body: string) =>
  curl(`${url}/mobile/v1/sessions`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-i', '-H', 'Content-Type: application/json', '--data-binary', body]);

test('maxSessions 0: every session start gets 503 with Retry-After; the policy is still served', async () => {
  const gw = await startTestGateway({ overrides: { mobile: { maxSessions: 0, retryAfter: '2m' } } });
  try {
    const r = await start(
      gw.url,
      gw.dir,
      JSON.stringify({ request: '00000000-0000-4000-8000-000000000000', code: '12345678', device: { serial: 'ABC123', platform: 'ios' } }),
    );
    assert.equal(r.status, 503);
    assert.match(r.body, /^retry-after: 120\r?$/im);
    assert.match(r.body, /mobile issuance is turned off/);
    assert.equal((await curl(`${gw.url}/mobile/v1/policy`, ['--cacert', join(gw.dir, 'certs/root-ca.pem')])).status, 200);
  } finally {
    await gw.stop();
  }
});

test('bad session input is a 400 that names the field; mobile.enabled false removes /mobile/v1', async () => {
  const gw = await startTestGateway();
  const off = await startTestGateway({ overrides: { mobile: { enabled: false } } });
  try {
    for (const [body, field] of [
      ['{"code": "1", "device": {"serial": "ABC123", "platform": "ios"}}', /give either request/],
      ['{"request": "nope", "code": "1", "device": {"serial": "ABC123", "platform": "ios"}}', /request: expected the request id/],
      [
        '{"userName": "jane", "code": 12, "device": {"serial": "A", "platform": "palm", "keyStores": ["keychain"]}}',
        /code:[\s\S]*device\.serial:[\s\S]*device\.platform:[\s\S]*device\.keyStores/,
      ],
      ['[1, 2]', /expected object/],
      ['{"broken', /not valid/],
    ] as const) {
      const r = await start(gw.url, gw.dir, body);
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, field);
    }
    assert.equal((await start(off.url, off.dir, '{}')).status, 404);
  } finally {
    await Promise.all([gw.stop(), off.stop()]);
  }
});
