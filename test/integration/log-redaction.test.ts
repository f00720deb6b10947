/** Secrets sent to the gateway, or handed to its logger, never reach the log. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';

const BASIC_PASSWORD = 'basic-secret-Pa55word-7781';
const SECRETS = {
  otp: '93018475',
  token: 'qs-token-5be2c0d7',
  password: 'query-password-1e8f',
  cookie: 'session-cookie-77aa0c',
  challenge: 'scep-challenge-4421',
  pfxPassword: 'pfx-password-c0ffee',
  privateKey: '-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkq',
  pfx: 'MIIKYQIBAzCCCicGCSqGSIb3DQEHAaCCChgEggoUMIIKEDCCBK',
};

describe('log redaction', () => {
  let gw: TestGateway;
  let bearer: string;

  before(async () => {
    gw = await startTestGateway({
      overrides: { auth: { basic: [{ username: 'console', password: BASIC_PASSWORD, principal: 'console', roles: [] }] } },
    });
    bearer = (await new TokenRepository(gw.db).create({ name: 'ops', roles: ['admin'] })).token;
  });
  after(() => gw.stop());

  test('requests carrying every kind of secret leave none in the log', async () => {
    const base = `https://localhost:${gw.port}`;
    const ca = ['--cacert', join(gw.dir, 'certs/root-ca.pem')];
    const basic = await curl(`${base}/api/v1/whoami`, [...ca, '-u', `console:${BASIC_PASSWORD}`]);
    assert.equal(basic.status, 200);
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: Bearer ${bearer}`])).status, 200);
    await curl(`${base}/api/v1/whoami`, [...ca, '-u', 'console:wrong-password-for-log-test']);
    const query = `otp=${SECRETS.otp}&token=${SECRETS.token}&password=${SECRETS.password}&challenge=${SECRETS.challenge}&keep=visible`;
    assert.equal((await curl(`${base}/mobile/v1/sessions?${query}`, [...ca, '-H', `Cookie: sid=${SECRETS.cookie}`])).status, 404);
    // SCEP is served ahead of express and logs its own lines.
    assert.equal((await curl(`${base}/scep?operation=GetCACaps&challenge=${SECRETS.challenge}`, ca)).status, 200);
    const body = join(gw.dir, 'body.json');
    writeFileSync(body, JSON.stringify({ pfxPassword: SECRETS.pfxPassword, privateKey: SECRETS.privateKey, pfx: SECRETS.pfx, otp: SECRETS.otp }));
    const posted = await curl(`${base}/api/v1/jobs/1/retry`, [
      ...adminCurlArgs(join(gw.dir, 'certs')),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      `@${body}`,
    ]);
    assert.equal(posted.status, 404);
    const malformed = await curl(`${base}/api/v1/jobs/1/retry`, [
      ...ca,
      '-H',
      `Authorization: Bearer ${bearer}`,
      '-H',
      'Content-Type: application/json',
      '--data',
      `{"password":"${SECRETS.password}"`,
    ]);
    assert.equal(malformed.status, 400);

    const logs = gw.logs();
    // The requests were logged (so the check below is meaningful) ...
    assert.match(logs, /"url":"\/mobile\/v1\/sessions\?otp=\[Redacted\]&token=\[Redacted\]&password=\[Redacted\]&challenge=\[Redacted\]&keep=visible"/);
    assert.match(logs, /"principal":"console","authMethod":"basic"/);
    // SCEP lines keep the path and the operation only: nothing else from its query reaches the log.
    assert.match(logs, /"url":"\/scep\?operation=GetCACaps","status":200/);
    // ... and no secret is in them, in any encoding a header would carry.
    const forbidden = [
      ...Object.values(SECRETS),
      BASIC_PASSWORD,
      Buffer.from(`console:${BASIC_PASSWORD}`).toString('base64'),
      Buffer.from('console:wrong-password-for-log-test').toString('base64'),
      bearer,
      bearer.slice(4),
    ];
    for (const secret of forbidden) assert.ok(!logs.includes(secret), `log contains ${secret}`);
  });

  for (const format of ['json', 'pretty'] as const) {
    test(`secrets inside logged objects are redacted at any of the first levels (${format} lines)`, () => {
      let out = '';
      const sink = new Writable({
        write(chunk: Buffer, _e, cb) {
          out += chunk.toString();
          cb();
        },
      });
      const log = createLogger({ level: 'info', format, destination: sink as never });
      log.info(
        {
          password: 'top-level-pw',
          headers: { authorization: 'Basic c2VjcmV0', 'x-api-key': 'api-key-1' },
          job: { payload: { pfxPassword: 'nested-pfx-pw', privateKey: 'nested-key', otp: '000111' } },
          request: { body: { credentials: { clientSecret: 'deep-client-secret' } } },
          delivery: { pkcs12: 'MIIbase64blob', masterKey: 'ab'.repeat(32) },
        },
        'with secrets',
      );
      for (const s of [
        'top-level-pw',
        'c2VjcmV0',
        'api-key-1',
        'nested-pfx-pw',
        'nested-key',
        '000111',
        'deep-client-secret',
        'MIIbase64blob',
        'ab'.repeat(32),
      ]) {
        assert.ok(!out.includes(s), `log contains ${s}: ${out}`);
      }
      assert.match(out, format === 'json' ? /"msg":"with secrets"/ : /INFO: with secrets\n\s+password: "\[Redacted\]"/);
    });
  }
});
