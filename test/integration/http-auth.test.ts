/**
 * The HTTPS listener and its passport strategies, exercised with curl the
 * way operators and MDM consoles call the gateway.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs, issueClientCert, type ClientCertFiles } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

const CONSOLE_PASSWORD = 'console-password-0123456789';
// RFC 7617: everything after the first colon is the password.
const COLON_PASSWORD = 'pass:word:with:colons';

describe('HTTPS authentication', () => {
  let gw: TestGateway;
  let base: string;
  let ca: string[];
  let pkiDir: string;
  let consoleCert: ClientCertFiles;

  before(async () => {
    const dir = tempDir();
    pkiDir = join(dir, 'certs');
    // First start generates the PKI; the console certificate is then issued
    // from it and allowlisted by fingerprint for the real gateway under test.
    const first = await startTestGateway({ dir });
    await first.stop();
    consoleCert = await issueClientCert(pkiDir, 'ws1-console');
    gw = await startTestGateway({
      dir,
      overrides: {
        auth: {
          clientCertificates: {
            allow: [
              { subject: 'CN=credgate-admin, O=credgate dev', principal: 'admin', roles: ['admin'] },
              { fingerprint: consoleCert.fingerprint256, principal: 'ws1-console', roles: ['connector'] },
            ],
          },
          basic: [
            { username: 'airwatch', password: CONSOLE_PASSWORD, principal: 'airwatch-console', roles: ['connector'] },
            { username: 'colons', password: COLON_PASSWORD, principal: 'colon-console', roles: ['connector'] },
          ],
        },
      },
    });
    base = `https://localhost:${gw.port}`;
    ca = ['--cacert', join(pkiDir, 'root-ca.pem')];
  });

  after(() => gw.stop());

  test('the admin PKCS#12 from the dev PKI authenticates by subject', async () => {
    const r = await curl(`${base}/api/v1/whoami`, adminCurlArgs(pkiDir));
    assert.equal(r.status, 200, r.body + r.stderr);
    const principal = r.json().principal as Record<string, unknown>;
    assert.equal(principal.name, 'admin');
    assert.equal(principal.method, 'client-cert');
    assert.deepEqual(principal.roles, ['admin']);
  });

  test('a certificate allowlisted by SHA-256 fingerprint maps to its principal', async () => {
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', consoleCert.cert, '--key', consoleCert.key]);
    assert.equal(r.status, 200, r.body);
    assert.equal((r.json().principal as { name: string }).name, 'ws1-console');
  });

  test('no credentials: 401 JSON naming what is accepted', async () => {
    const r = await curl(`${base}/api/v1/whoami`, ca);
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'unauthorized');
    assert.match(String(r.json().message), /client certificate or a bearer token or Basic credentials/);
  });

  test('a certificate from an unknown CA is rejected with the reason', async () => {
    const stranger = await issueClientCert(pkiDir, 'stranger', { strangerCa: true });
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', stranger.cert, '--key', stranger.key]);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /client certificate rejected/);
  });

  test('an expired certificate from the trusted CA is rejected', async () => {
    const expired = await issueClientCert(pkiDir, 'expired-admin', { expired: true });
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', expired.cert, '--key', expired.key]);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /CERT_HAS_EXPIRED/);
  });

  test('a valid certificate that is not on the allowlist is rejected', async () => {
    const other = await issueClientCert(pkiDir, 'someone-else');
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', other.cert, '--key', other.key]);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /not on the allowlist/);
  });

  test("a certificate the gateway issued (as SCEP would, to the request's subject) with the admin's subject is not the admin", async () => {
    const subject = [
      { type: 'CN', value: 'credgate-admin' },
      { type: 'O', value: 'credgate dev' },
    ];
    const issued = await gw.issuance.issuer.issue({ template: 'tls-client', data: {}, names: { subject, subjectAltNames: [] }, actor: 'test' });
    assert.equal(issued.record.subject, 'CN=credgate-admin, O=credgate dev');
    const certFile = join(pkiDir, 'enrollee.pem');
    const keyFile = join(pkiDir, 'enrollee-key.pem');
    writeFileSync(certFile, issued.record.pem + issued.chain.map((der) => new X509Certificate(der).toString()).join(''));
    writeFileSync(keyFile, issued.privateKey!.export({ type: 'pkcs8', format: 'pem' }));
    const r = await curl(`${base}/api/v1/whoami`, [...ca, '--cert', certFile, '--key', keyFile]);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /not on the allowlist/);
    // The dev admin certificate, same subject and same issuing CA, still is.
    assert.equal((await curl(`${base}/api/v1/whoami`, adminCurlArgs(pkiDir))).status, 200);
  });

  test('HTTP Basic: right password accepted, wrong one refused with a challenge', async () => {
    const ok = await curl(`${base}/api/v1/whoami`, [...ca, '-u', `airwatch:${CONSOLE_PASSWORD}`]);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(ok.json().principal, { name: 'airwatch-console', method: 'basic', roles: ['connector'] });
    const bad = await curl(`${base}/api/v1/whoami`, [...ca, '-u', 'airwatch:wrong-password-123', '-D', '-']);
    assert.equal(bad.status, 401);
    assert.match(bad.body, /www-authenticate: .*Basic realm="credgate"/i);
    assert.match(bad.body, /wrong username or password/);
  });

  test('HTTP Basic: a password may contain colons; only the whole of it is accepted', async () => {
    const ok = await curl(`${base}/api/v1/whoami`, [...ca, '-u', `colons:${COLON_PASSWORD}`]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((ok.json().principal as { name: string }).name, 'colon-console');
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-u', 'colons:pass'])).status, 401);
  });

  test('HTTP Basic: a malformed header is a 401 with the reason, not a 500', async () => {
    for (const header of ['Basic', 'Basic !!!not-base64', `Basic ${Buffer.from('no-colon-here').toString('base64')}`]) {
      const r = await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: ${header}`]);
      assert.equal(r.status, 401, `${header}: ${r.body}`);
      assert.equal(r.json().error, 'unauthorized');
    }
  });

  test('bearer tokens: valid, then revoked; stored only as a hash', async () => {
    const tokens = new TokenRepository(gw.db);
    const { token, record } = await tokens.create({ name: 'ops-automation', roles: ['admin'] });
    const ok = await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: Bearer ${token}`]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((ok.json().principal as { tokenId: string }).tokenId, record.id);
    const rows = await gw.db('api_tokens').select('*');
    assert.ok(!JSON.stringify(rows).includes(token.slice(4)), 'the token itself is not stored');
    await tokens.revoke(record.id);
    const revoked = await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: Bearer ${token}`]);
    assert.equal(revoked.status, 401);
    assert.match(String(revoked.json().message), /unknown, expired or revoked/);
  });

  test('an expired bearer token is refused', async () => {
    const { token } = await new TokenRepository(gw.db).create({ name: 'short', roles: ['admin'], expiresAt: Date.now() - 1 });
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: Bearer ${token}`])).status, 401);
  });

  test('admin routes need the admin role (403) and do not take Basic', async () => {
    const { token } = await new TokenRepository(gw.db).create({ name: 'reader', roles: ['auditor'] });
    const forbidden = await curl(`${base}/api/v1/jobs`, [...ca, '-H', `Authorization: Bearer ${token}`]);
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.json().message), /reader lacks the role/);
    assert.equal((await curl(`${base}/api/v1/jobs`, [...ca, '-u', `airwatch:${CONSOLE_PASSWORD}`])).status, 401);
    assert.equal((await curl(`${base}/api/v1/jobs`, adminCurlArgs(pkiDir))).status, 200);
  });

  test('bodies over the limit get 413; malformed JSON 400; both JSON errors', async () => {
    const bodyFile = join(pkiDir, 'big.json');
    writeFileSync(bodyFile, `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}`);
    const big = await curl(`${base}/api/v1/jobs/1/retry`, [
      ...adminCurlArgs(pkiDir),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      `@${bodyFile}`,
    ]);
    assert.equal(big.status, 413, big.body);
    assert.equal(big.json().error, 'payload_too_large');
    const bad = await curl(`${base}/api/v1/jobs/1/retry`, [...adminCurlArgs(pkiDir), '-X', 'POST', '-H', 'Content-Type: application/json', '--data', '{"x":']);
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json().error, 'malformed_body');
  });

  test('unknown routes are 404 JSON; bad ids are 400, never 5xx', async () => {
    assert.equal((await curl(`${base}/nope`, ca)).status, 404);
    assert.equal((await curl(`${base}/api/v1/jobs/abc`, adminCurlArgs(pkiDir))).status, 400);
    assert.equal((await curl(`${base}/api/v1/jobs/999999`, adminCurlArgs(pkiDir))).status, 404);
    assert.equal((await curl(`${base}/api/v1/jobs?status=bogus`, adminCurlArgs(pkiDir))).status, 400);
  });

  test('responses carry a request id and security headers', async () => {
    const r = await curl(`${base}/healthz`, [...ca, '-D', '-', '-H', 'X-Request-Id: trace-123']);
    assert.match(r.body, /x-request-id: trace-123/i);
    assert.match(r.body, /strict-transport-security:/i);
    assert.match(r.body, /x-content-type-options: nosniff/i);
  });

  test('healthz, readyz and metrics', async () => {
    assert.deepEqual((await curl(`${base}/healthz`, ca)).json(), { status: 'ok' });
    const ready = await curl(`${base}/readyz`, ca);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: 'ok', workers: 'running' } });
    const metrics = (await curl(`${base}/metrics`, ca)).body;
    assert.match(metrics, /credgate_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    assert.match(metrics, /credgate_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz",status="200"\}/);
    assert.match(metrics, /credgate_jobs\{status="queued"\} 0/);
  });

  // Last: from here on this address is throttled for Basic for a minute.
  test('HTTP Basic: an address that keeps guessing gets 429 with Retry-After, even for the right password; certificates still work', async () => {
    let status = 0;
    let tries = 0;
    while (status !== 429 && tries < 30) {
      tries += 1;
      status = (await curl(`${base}/api/v1/whoami`, [...ca, '-u', `airwatch:guess-${tries}-abcdefgh`])).status;
      assert.ok(status === 401 || status === 429, String(status));
    }
    assert.equal(status, 429, 'throttled within 30 guesses');
    const right = await curl(`${base}/api/v1/whoami`, [...ca, '-u', `airwatch:${CONSOLE_PASSWORD}`, '-D', '-']);
    assert.equal(right.status, 429, 'not even compared while throttled');
    const wait = Number(/retry-after: (\d+)/i.exec(right.body)?.[1]);
    assert.ok(wait >= 1 && wait <= 60, String(wait));
    assert.match(right.body, /too many failed Basic logins from 127\.0\.0\.1; try again in \d+ s/);
    assert.equal((await curl(`${base}/api/v1/whoami`, adminCurlArgs(pkiDir))).status, 200);
    assert.ok(!gw.logs().includes(CONSOLE_PASSWORD), 'the password is not logged');
    assert.match(gw.logs(), /failed Basic logins from this address are refused/);
  });
});
