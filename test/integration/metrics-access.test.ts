/**
 * Who may read /metrics, asked over HTTPS with curl from loopback and from
 * this machine's own non-loopback address (the gateway listens on all).
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { curl, type CurlResult } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'metrics-token-0123456789abcdef';
/** An IPv4 address of this machine other than loopback, to call from; undefined when it has none. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
const needsExternal = external ? {} : { skip: 'no non-loopback IPv4 address on this machine' };

describe('/metrics access', () => {
  const dir = tempDir();
  let gw: TestGateway;
  const ca = () => ['--cacert', join(dir, 'certs/root-ca.pem')];

  /** GET over HTTPS from loopback, or from the external address (the server certificate names localhost). */
  const get = (path: string, from: 'loopback' | 'external', args: string[] = []): Promise<CurlResult> =>
    curl(`https://localhost:${gw.port}${path}`, [...ca(), ...(from === 'external' ? ['--resolve', `localhost:${gw.port}:${external}`] : []), ...args]);

  /** Asserts the answer is the 404 of a path that does not exist, word for word apart from the path and request id. */
  async function assertHidden(r: CurlResult, from: 'loopback' | 'external'): Promise<void> {
    assert.equal(r.status, 404, r.body);
    const unknown = await get('/metricz', from);
    const strip = (x: CurlResult) => ({ ...x.json(), message: String(x.json().message).replace(/\/metric[sz]/, '/…'), requestId: '' });
    assert.deepEqual(strip(r), strip(unknown));
    assert.doesNotMatch(r.body, /credgate_/);
  }

  const start = async (metrics: Record<string, unknown>) => {
    await gw?.stop();
    gw = await startTestGateway({ dir, overrides: { server: { host: '0.0.0.0' }, metrics } });
  };

  before(() => start({}));
  after(() => gw.stop());

  test('by default loopback callers read /metrics and nobody else does', needsExternal, async () => {
    const local = await get('/metrics', 'loopback');
    assert.equal(local.status, 200);
    assert.match(local.body, /credgate_http_requests_total/);
    await assertHidden(await get('/metrics', 'external'), 'external');
    assert.equal((await get('/healthz', 'external')).status, 200, 'the rest of the listener answers as before');
  });

  test('a request through a proxy is not loopback, whatever X-Forwarded-For says', async () => {
    await assertHidden(await get('/metrics', 'loopback', ['-H', 'X-Forwarded-For: 127.0.0.1']), 'loopback');
    await assertHidden(await get('/metrics', 'loopback', ['-H', 'Forwarded: for=127.0.0.1']), 'loopback');
  });

  test('a bearer token admits from anywhere only when configured, compared whole', needsExternal, async () => {
    await assertHidden(await get('/metrics', 'external', ['-H', `Authorization: Bearer ${TOKEN}`]), 'external');
    await start({ token: TOKEN, allow: [] });
    await assertHidden(await get('/metrics', 'loopback'), 'loopback');
    await assertHidden(await get('/metrics', 'external', ['-H', `Authorization: Bearer ${TOKEN.slice(0, -1)}`]), 'external');
    await assertHidden(await get('/metrics', 'external', ['-H', `Authorization: Bearer ${TOKEN}x`]), 'external');
    await assertHidden(await get('/metrics', 'external', ['-H', `Authorization: Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]), 'external');
    const ok = await get('/metrics', 'external', ['-H', `Authorization: Bearer ${TOKEN}`]);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /credgate_jobs/);
    assert.ok(!gw.logs().includes(TOKEN), 'the token is not logged');
  });

  test('a CIDR allowlist admits its networks by the TCP peer address', needsExternal, async () => {
    await start({ allow: [`${external}/32`] });
    assert.equal((await get('/metrics', 'external')).status, 200);
    await assertHidden(await get('/metrics', 'loopback'), 'loopback');
  });

  test('a separate listener serves /metrics, and the HTTPS one then does not', async () => {
    await start({ listener: { host: '127.0.0.1', port: 0 } });
    assert.ok(gw.metricsPort);
    await assertHidden(await get('/metrics', 'loopback'), 'loopback');
    const r = await curl(`http://127.0.0.1:${gw.metricsPort}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.body, /credgate_http_requests_total/);
    assert.equal((await curl(`http://127.0.0.1:${gw.metricsPort}/api/v1/whoami`)).status, 404, 'nothing else is served there');
  });

  test('a network that is not CIDR is a configuration error', () => {
    assert.throws(() => parseConfig('metrics:\n  allow: [localhost]\n', 'config/credgate.yaml', {}), /metrics\.allow\.0: expected a network in CIDR form/);
  });
});
