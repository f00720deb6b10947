/**
 * Graph throttling the managedDevices listing (429, or 503 from a busy
 * service): the poll waits for Retry-After (seconds or an HTTP date) and
 * asks again within the same listing, not at the next polling interval;
 * the waiting is bounded. Against the stand-ins of
 * test/helpers/intune-standins.ts over HTTPS.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Graph, THROTTLE, intuneHttp } from '../../connectors/intune/graph.js';
import { MANAGED_DEVICES } from '../../connectors/intune/device-poller.js';
import { OAuthClient } from '../../src/connectors/oauth-client.js';
import { intuneSettings, writeConnectorFile } from '../helpers/connector-files.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud } from '../helpers/intune-standins.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '9e0f1d3b-14a6-49ae-97bc-6eba6914391e';
const CLIENT_SECRET = 'throttle-app-secret-Zq8~';
const LISTING = 'GET /v1.0/deviceManagement/managedDevices?';

describe('Intune: a throttled managedDevices listing', () => {
  let caFile: string;
  let cloud: IntuneCloud;
  let gw: TestGateway;
  /** When the 503 on page 2 tells the poll to come back. */
  let page2RetryAt: number;

  const listings = () => cloud.requests.filter((r) => r.path.startsWith('/v1.0/deviceManagement/managedDevices?'));

  before(async () => {
    const dir = tempDir();
    const tls = await makeTestTls();
    caFile = writeTestTlsFiles(tls, dir).ca;
    cloud = await startIntuneCloud({ tls: tls.server, tenant: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, pageSize: 2 });
    for (const name of ['ann', 'ben', 'cat']) {
      const id = `${name}00000-0000-4000-8000-${'2'.repeat(12)}`;
      cloud.users.set(id, { id, userPrincipalName: `${name}@contoso.onmicrosoft.com`, mail: `${name}@contoso.com` });
      cloud.devices.push({
        id: `dev-${name}`,
        userId: id,
        userPrincipalName: `${name}@contoso.onmicrosoft.com`,
        emailAddress: `${name}@contoso.com`,
        enrolledDateTime: '2024-05-02T10:00:00Z',
      });
    }
    // The first poll meets both: page 1 answers 429 (Retry-After in seconds), page 2 then 503 (Retry-After as an HTTP date).
    page2RetryAt = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    cloud.failNext(LISTING, 1, 429, { 'Retry-After': '1' });
    cloud.failNext(/^GET \/v1\.0\/deviceManagement\/managedDevices\?.*\$skiptoken=2/, 1, 503, { 'Retry-After': new Date(page2RetryAt).toUTCString() });
    writeFileSync(join(dir, 'connector-key.pem'), cloud.connectorPublicKeyPem);
    writeConnectorFile(
      join(dir, 'connectors'),
      'intune',
      intuneSettings(cloud, {
        clientSecret: CLIENT_SECRET,
        trust: caFile,
        timeout: '3s',
        enrolled: { signing: 'smime-signing' },
        pkcs12: { password: 'throttled-pfx-1' },
        // Were the throttled poll left to the next interval, nobody would enroll for an hour.
        polling: { interval: '1h' },
        connectorPublicKey: join(dir, 'connector-key.pem'),
      }),
    );
    gw = await startTestGateway({ dir, overrides: { connectors: { dir: join(dir, 'connectors') } } });
  });
  after(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  test('429 then 503 are waited out within the first poll: Retry-After in seconds and as an HTTP date, and every device enrolls', async () => {
    await until('imports for all three users', () => new Set(cloud.imports.map((i) => i.userId)).size === 3, 20_000);
    const seen = listings();
    const first = seen.findIndex((r) => !r.path.includes('skiptoken'));
    const again = seen.findIndex((r, i) => i > first && !r.path.includes('skiptoken'));
    assert.ok(seen[again]!.at - seen[first]!.at >= 1000, `page 1 asked again ${seen[again]!.at - seen[first]!.at} ms after the 429 with Retry-After: 1`);
    const page2 = seen.filter((r) => r.path.includes('skiptoken=2'));
    assert.equal(page2.length, 2, 'page 2: the 503, then the page');
    assert.ok(page2[1]!.at >= page2RetryAt - 20, `page 2 asked again ${page2RetryAt - page2[1]!.at} ms before its Retry-After date`);
    assert.ok(!gw.logs().includes('managed device listing failed'), 'the poll did not fail');
    const enrolled = (await gw.db('mdm_events').where({ connector_id: 'intune', type: 'enrolled' }).select('device_id')) as { device_id: string }[];
    assert.deepEqual(enrolled.map((e) => e.device_id).sort(), ['dev-ann', 'dev-ben', 'dev-cat']);
  });

  describe('bounded', () => {
    let graph: Graph;
    before(() => {
      const http = intuneHttp({ trust: [caFile], timeout: '3s' });
      const tokens = new OAuthClient({
        tokenUrl: `${cloud.loginHost}/${TENANT}/oauth2/v2.0/token`,
        clientId: CLIENT_ID,
        credential: { secret: CLIENT_SECRET },
        http,
      });
      graph = new Graph(http, tokens, { graphHost: cloud.graphHost, graphScope: undefined });
    });
    const listAll = async (signal?: AbortSignal) => {
      let n = 0;
      for await (const page of graph.list(MANAGED_DEVICES, signal)) n += page.length;
      return n;
    };

    test(`${THROTTLE.retries} throttled answers in a row are waited out; one more fails the listing, saying so`, async () => {
      cloud.failNext(LISTING, THROTTLE.retries, 429, { 'Retry-After': '0' });
      assert.equal(await listAll(), 3);
      const before = listings().length;
      cloud.failNext(LISTING, THROTTLE.retries + 1, 429, { 'Retry-After': '0' });
      await assert.rejects(
        listAll(),
        new RegExp(`Graph answered 429 to GET /v1\\.0/deviceManagement/managedDevices .*; still throttled after ${THROTTLE.retries} retries`),
      );
      assert.equal(listings().length - before, THROTTLE.retries + 1, 'asked once, then once per retry');
    });

    test('a Retry-After longer than a listing waits fails it at once, for the next interval', async () => {
      cloud.failNext(LISTING, 1, 429, { 'Retry-After': '3600' });
      const started = Date.now();
      await assert.rejects(listAll(), /Retry-After asks for 3600 s, more than the 300 s a listing waits/);
      assert.ok(Date.now() - started < 2000);
    });

    test('a 503 without Retry-After is asked again after a second; a stopping poll stops waiting', async () => {
      cloud.failNext(LISTING, 1, 503);
      const before = listings().length;
      assert.equal(await listAll(), 3);
      const [failed, retried] = listings().slice(before);
      assert.ok(retried!.at - failed!.at >= THROTTLE.firstBackoffMs - 20);

      cloud.failNext(LISTING, 1, 429, { 'Retry-After': '60' });
      const stop = new AbortController();
      const started = Date.now();
      setTimeout(() => stop.abort(), 200);
      await assert.rejects(listAll(stop.signal), { name: 'AbortError' });
      assert.ok(Date.now() - started < 2000);
    });
  });
});
