/**
 * The Workspace ONE stand-ins (test/helpers/ws1-standins.ts) exercised with
 * curl, the way the sample request of Workspace ONE UEM's Credential Escrow
 * Gateway guide calls the Escrow Gateway, so the connector's integration
 * tests can trust them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import {
  issueTestClient,
  makeTestCa,
  makeTestTls,
  startEscrowGateway,
  startUemApi,
  writeTestTlsFiles,
  type EscrowGatewayHandle,
  type TestTls,
  type TestTlsFiles,
  type UemApiHandle,
} from '../helpers/ws1-standins.js';

interface CurlRun {
  /** curl's exit code (0 = transfer done, whatever the HTTP status). */
  exit: number;
  /** HTTP status, 0 when no response came. */
  status: number;
  body: string;
  stderr: string;
  ms: number;
}

/** Asynchronous: the servers live in this process. */
function curl(url: string, args: string[], maxTime = 10): Promise<CurlRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(maxTime), '-o', '-', '-w', '\n%{http_code}', ...args, url], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const cut = stdout.lastIndexOf('\n');
      const exit = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ exit, status: Number(stdout.slice(cut + 1)) || 0, body: stdout.slice(0, cut), stderr, ms: Date.now() - started });
    });
  });
}

const json = (r: CurlRun): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

let tls: TestTls;
let files: TestTlsFiles;
let dir: string;

before(async () => {
  dir = tempDir('credgate-ws1-');
  tls = await makeTestTls();
  files = writeTestTlsFiles(tls, dir);
});

describe('Escrow Gateway stand-in', () => {
  let eg: EscrowGatewayHandle;
  let payloadFile: string;
  const deviceUuid = randomUUID();
  const userUuid = randomUUID();

  /** The guide's sample request, with a JSON body from a file (or inline). */
  const post = (data: string, opts: { p12?: string; headers?: string[]; maxTime?: number } = {}) =>
    curl(
      `${eg.url}/v2/certificates`,
      [
        '-X',
        'POST',
        ...(opts.headers ?? ['--header', 'Content-Type: application/json', '--header', 'Accept: application/json']),
        '--cert',
        `${opts.p12 ?? files.clientP12}:${tls.client.pkcs12Password}`,
        '--cert-type',
        'p12',
        '--cacert',
        files.ca,
        '--data',
        data,
      ],
      opts.maxTime,
    );

  before(async () => {
    eg = await startEscrowGateway({
      cert: tls.server.cert,
      key: tls.server.key,
      clientCa: tls.caPem,
      allowedFingerprints: [tls.client.fingerprint256],
    });
    payloadFile = join(dir, 'payload.json');
    writeFileSync(
      payloadFile,
      JSON.stringify({
        device_uuid: deviceUuid,
        user_uuid: userUuid,
        smime_certificates: { signing: [b64('sig-p12')], encryption: [b64('enc-p12')], archived: [b64('old-1'), b64('old-2')] },
      }),
    );
  });
  after(() => eg.stop());

  test("the guide's sample: mTLS with the allowlisted PKCS#12 → 200 accepted and recorded", async () => {
    const before = eg.uploads.length;
    const r = await post(`@${payloadFile}`);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json(r), { status: 'accepted' });
    assert.equal(eg.uploads.length, before + 1);
    const u = eg.uploads.at(-1)!;
    assert.equal(u.deviceUuid, deviceUuid);
    assert.equal(u.userUuid, userUuid);
    assert.deepEqual(u.signing.map(String), ['sig-p12']);
    assert.deepEqual(u.encryption.map(String), ['enc-p12']);
    assert.deepEqual(u.archived.map(String), ['old-1', 'old-2']);
    assert.equal(u.clientFingerprint, tls.client.fingerprint256);
    assert.ok(u.at instanceof Date);
  });

  test('also accepts PEM cert + key, and only signing', async () => {
    const r = await curl(`${eg.url}/v2/certificates`, [
      '-H',
      'Content-Type: application/json',
      '-H',
      'Accept: application/json',
      '--cert',
      files.clientCert,
      '--key',
      files.clientKey,
      '--cacert',
      files.ca,
      '--data',
      JSON.stringify({ device_uuid: 'd', user_uuid: 'u', smime_certificates: { signing: [b64('x')] } }),
    ]);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(eg.uploads.at(-1)!.encryption, []);
  });

  test('no client certificate → TLS handshake fails', async () => {
    const count = eg.requests;
    const r = await curl(`${eg.url}/v2/certificates`, [
      '-H',
      'Content-Type: application/json',
      '-H',
      'Accept: application/json',
      '--cacert',
      files.ca,
      '--data',
      `@${payloadFile}`,
    ]);
    assert.notEqual(r.exit, 0);
    assert.equal(r.status, 0);
    assert.equal(eg.requests, count, 'no HTTP request reached the server');
  });

  test('client certificate from another CA → TLS handshake fails', async () => {
    const stranger = await issueTestClient(await makeTestCa('Stranger CA'), 'stranger', tls.client.pkcs12Password);
    const p12 = join(dir, 'stranger.p12');
    writeFileSync(p12, stranger.pkcs12);
    const r = await post(`@${payloadFile}`, { p12 });
    assert.notEqual(r.exit, 0);
  });

  test('client certificate not on the allowlist → 403, nothing recorded', async () => {
    const before = eg.uploads.length;
    const r = await curl(`${eg.url}/v2/certificates`, [
      '-H',
      'Content-Type: application/json',
      '-H',
      'Accept: application/json',
      '--cert',
      `${files.otherClientP12}:${tls.otherClient.pkcs12Password}`,
      '--cert-type',
      'p12',
      '--cacert',
      files.ca,
      '--data',
      `@${payloadFile}`,
    ]);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(r.status, 403);
    assert.match(String(json(r).reason), /approved-client list/);
    assert.equal(eg.uploads.length, before);
  });

  test('wrong Content-Type → 415, wrong Accept → 406, GET → 405', async () => {
    const ct = await post(`@${payloadFile}`, { headers: ['-H', 'Content-Type: text/plain', '-H', 'Accept: application/json'] });
    assert.equal(ct.status, 415);
    const noAccept = await post(`@${payloadFile}`, { headers: ['-H', 'Content-Type: application/json', '-H', 'Accept: text/html'] });
    assert.equal(noAccept.status, 406);
    const get = await curl(`${eg.url}/v2/certificates`, [
      '--cert',
      `${files.clientP12}:${tls.client.pkcs12Password}`,
      '--cert-type',
      'p12',
      '--cacert',
      files.ca,
    ]);
    assert.equal(get.status, 405);
  });

  test('malformed bodies → 400 with a reason', async () => {
    const before = eg.uploads.length;
    const good = { device_uuid: 'd', user_uuid: 'u', smime_certificates: { signing: [b64('s')] } };
    const cases: [string, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['[]', /JSON object/],
      [JSON.stringify({ ...good, device_uuid: '' }), /device_uuid/],
      [JSON.stringify({ ...good, user_uuid: 42 }), /user_uuid/],
      [JSON.stringify({ device_uuid: 'd', user_uuid: 'u' }), /smime_certificates/],
      [JSON.stringify({ ...good, extra: 1 }), /unknown field.*extra/],
      [JSON.stringify({ ...good, smime_certificates: { signing: [], encryption: [], archived: [] } }), /at least one/],
      [JSON.stringify({ ...good, smime_certificates: {} }), /at least one/],
      [JSON.stringify({ ...good, smime_certificates: { signing: ['not base64!'] } }), /signing\[0\].*base64/],
      [JSON.stringify({ ...good, smime_certificates: { signing: ['QUJD'], encryption: ['QUJ'] } }), /encryption\[0\].*base64/],
      [JSON.stringify({ ...good, smime_certificates: { signing: ['QUJD\nREVG'] } }), /base64/],
      [JSON.stringify({ ...good, smime_certificates: { signing: [''] } }), /base64/],
      [JSON.stringify({ ...good, smime_certificates: { signing: 'QUJD' } }), /array/],
      [JSON.stringify({ ...good, smime_certificates: { signing: ['QUJD'], Signing: ['QUJD'] } }), /unknown field.*Signing/],
    ];
    for (const [body, reason] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, `${body} → ${r.status} ${r.body}`);
      assert.match(String(json(r).reason), reason, body);
    }
    assert.equal(eg.uploads.length, before);
  });

  test('failNext(2) → 503, 503, then 200; failures are counted but not recorded', async () => {
    const uploads = eg.uploads.length;
    const count = eg.requests;
    eg.failNext(2);
    assert.equal((await post(`@${payloadFile}`)).status, 503);
    assert.equal((await post(`@${payloadFile}`)).status, 503);
    assert.equal(eg.uploads.length, uploads);
    assert.equal((await post(`@${payloadFile}`)).status, 200);
    assert.equal(eg.uploads.length, uploads + 1);
    assert.equal(eg.requests, count + 3);
    eg.failNext(1, 500);
    assert.equal((await post(`@${payloadFile}`)).status, 500);
  });

  test('hang(ms) delays the answer; a client that gives up is not recorded', async () => {
    const uploads = eg.uploads.length;
    eg.hang(400);
    try {
      const slow = await post(`@${payloadFile}`);
      assert.equal(slow.status, 200);
      assert.ok(slow.ms >= 400, `answered after ${slow.ms} ms`);
      assert.equal(eg.uploads.length, uploads + 1);

      eg.hang(1500);
      const gaveUp = await post(`@${payloadFile}`, { maxTime: 0.5 });
      assert.equal(gaveUp.exit, 28, 'curl timed out');
      await new Promise((r) => setTimeout(r, 1300));
      assert.equal(eg.uploads.length, uploads + 1);
    } finally {
      eg.hang(0);
    }
    const fast = await post(`@${payloadFile}`);
    assert.equal(fast.status, 200);
    assert.ok(fast.ms < 1000);
  });

  test('hangForever never answers; stop() still returns promptly', async () => {
    const g = await startEscrowGateway({
      cert: tls.server.cert,
      key: tls.server.key,
      clientCa: tls.caPem,
      allowedFingerprints: [tls.client.fingerprint256.replace(/:/g, '').toLowerCase()],
    });
    g.hangForever();
    const pending = curl(`${g.url}/v2/certificates`, [
      '-H',
      'Content-Type: application/json',
      '-H',
      'Accept: application/json',
      '--cert',
      `${files.clientP12}:${tls.client.pkcs12Password}`,
      '--cert-type',
      'p12',
      '--cacert',
      files.ca,
      '--data',
      `@${payloadFile}`,
    ]);
    while (g.requests === 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await g.stop();
    assert.ok(Date.now() - t0 < 2000);
    const r = await pending;
    assert.notEqual(r.exit, 0);
    assert.equal(r.status, 0);
    assert.equal(g.uploads.length, 0);
  });
});

describe('UEM REST API stand-in', () => {
  let uem: UemApiHandle;
  const TENANT = 'tenant-api-key-123';
  const BASIC = { username: 'api-admin', password: 'api-pass:with-colon' };
  const OAUTH = { clientId: 'client-abc', clientSecret: 'secret-xyz' };
  const user = { id: 4711, uuid: randomUUID(), userName: 'jdoe', email: 'jdoe@example.com', upn: 'jdoe@corp.example.com' };
  const deviceUuid = randomUUID();
  const V1 = 'Accept: application/json;version=1';
  const V2 = 'Accept: application/json;version=2';

  const api = (path: string, args: string[]) => curl(`${uem.url}${path}`, ['--cacert', files.ca, ...args]);
  const withBasic = (accept: string, ...more: string[]) => [
    '-H',
    `aw-tenant-code: ${TENANT}`,
    '-u',
    `${BASIC.username}:${BASIC.password}`,
    '-H',
    accept,
    ...more,
  ];

  before(async () => {
    uem = await startUemApi({ cert: tls.server.cert, key: tls.server.key, tenantCode: TENANT, basic: BASIC, oauth: OAUTH });
    uem.addUser(user);
    uem.addDevice({ uuid: deviceUuid, userEmail: 'device-owner@example.com' });
  });
  after(() => uem.stop());

  test('aw-tenant-code missing or wrong → 401', async () => {
    const missing = await api(`/api/system/users/${user.id}`, ['-u', `${BASIC.username}:${BASIC.password}`, '-H', V1]);
    assert.equal(missing.status, 401);
    const wrong = await api(`/api/system/users/${user.id}`, ['-H', 'aw-tenant-code: nope', '-u', `${BASIC.username}:${BASIC.password}`, '-H', V1]);
    assert.equal(wrong.status, 401);
  });

  test('Basic: right credentials → 200, wrong or none → 401', async () => {
    assert.equal((await api(`/api/system/users/${user.id}`, withBasic(V1))).status, 200);
    const bad = await api(`/api/system/users/${user.id}`, ['-H', `aw-tenant-code: ${TENANT}`, '-u', 'api-admin:wrong', '-H', V1]);
    assert.equal(bad.status, 401);
    const none = await api(`/api/system/users/${user.id}`, ['-H', `aw-tenant-code: ${TENANT}`, '-H', V1]);
    assert.equal(none.status, 401);
    const last = uem.requests.at(-1)!;
    assert.equal(last.method, 'GET');
    assert.equal(last.path, `/api/system/users/${user.id}`);
    assert.equal(last.headers['aw-tenant-code'], TENANT);
  });

  test('user lookup v1 by numeric id, v2 by uuid', async () => {
    const v1 = await api(`/api/system/users/${user.id}`, withBasic(V1));
    assert.equal(v1.status, 200, v1.body);
    const u1 = json(v1);
    assert.deepEqual(u1.Id, { Value: user.id });
    assert.equal(u1.Uuid, user.uuid);
    assert.equal(u1.UserName, user.userName);
    assert.equal(u1.Email, user.email);

    const v2 = await api(`/api/system/users/${user.uuid}`, withBasic(V2));
    assert.equal(v2.status, 200, v2.body);
    assert.deepEqual((({ uuid, userName, emailAddress, userPrincipalName }) => ({ uuid, userName, emailAddress, userPrincipalName }))(json(v2)), {
      uuid: user.uuid,
      userName: user.userName,
      emailAddress: user.email,
      userPrincipalName: user.upn,
    });

    assert.equal((await api(`/api/system/users/${user.uuid}`, withBasic(V1))).status, 404, 'v1 takes the numeric id');
    assert.equal((await api(`/api/system/users/999`, withBasic(V1))).status, 404);
    assert.equal((await api(`/api/system/users/${user.id}`, withBasic('Accept: application/xml'))).status, 406);
  });

  test('device lookup v2 → enrollmentInfo.userEmailAddress', async () => {
    const r = await api(`/api/mdm/devices/${deviceUuid}`, withBasic(V2));
    assert.equal(r.status, 200, r.body);
    const d = json(r);
    assert.equal(d.uuid, deviceUuid);
    assert.equal((d.enrollmentInfo as Record<string, unknown>).userEmailAddress, 'device-owner@example.com');
    assert.equal((await api(`/api/mdm/devices/${randomUUID()}`, withBasic(V2))).status, 404);
    assert.equal((await api(`/api/mdm/devices/${deviceUuid}`, withBasic(V1))).status, 406);
  });

  test('OAuth client credentials: token → bearer works; expireTokens → 401; new token works', async () => {
    const getToken = async (secret = OAUTH.clientSecret) =>
      curl(uem.tokenUrl, ['--cacert', files.ca, '-u', `${OAUTH.clientId}:${secret}`, '-d', 'grant_type=client_credentials']);
    const bad = await getToken('wrong');
    assert.equal(bad.status, 401);
    assert.equal(json(bad).error, 'invalid_client');
    const badGrant = await curl(uem.tokenUrl, ['--cacert', files.ca, '-u', `${OAUTH.clientId}:${OAUTH.clientSecret}`, '-d', 'grant_type=password']);
    assert.equal(badGrant.status, 400);

    const t = await getToken();
    assert.equal(t.status, 200, t.body);
    const tok = json(t);
    assert.equal(tok.token_type, 'Bearer');
    assert.equal(typeof tok.access_token, 'string');
    assert.equal(typeof tok.expires_in, 'number');
    const bearer = (token: unknown) => ['-H', `aw-tenant-code: ${TENANT}`, '-H', `Authorization: Bearer ${String(token)}`, '-H', V2];

    assert.equal((await api(`/api/mdm/devices/${deviceUuid}`, bearer(tok.access_token))).status, 200);
    const noTenant = await api(`/api/mdm/devices/${deviceUuid}`, ['-H', `Authorization: Bearer ${String(tok.access_token)}`, '-H', V2]);
    assert.equal(noTenant.status, 401, 'bearer still needs aw-tenant-code');

    uem.expireTokens();
    const headerFile = join(dir, 'expired-headers.txt');
    const expired = await api(`/api/mdm/devices/${deviceUuid}`, [...bearer(tok.access_token), '-D', headerFile]);
    assert.equal(expired.status, 401);
    assert.match(readFileSync(headerFile, 'utf8'), /www-authenticate: Bearer error="invalid_token"/i);

    const fresh = json(await getToken());
    assert.notEqual(fresh.access_token, tok.access_token);
    assert.equal((await api(`/api/mdm/devices/${deviceUuid}`, bearer(fresh.access_token))).status, 200);
    assert.equal(uem.tokensIssued, 2);
  });

  test('uploadsmimecerts: 200 empty and recorded; 6041/6042/6043 errors; 403 1011', async () => {
    const path = `/api/system/users/${user.id}/uploadsmimecerts`;
    const send = (body: unknown) => api(path, withBasic(V1, '-H', 'Content-Type: application/json', '--data', JSON.stringify(body)));
    const cred = (s: string) => ({ CertificatePayload: b64(s), Password: 'pw' });

    const ok = await send({ Signing: cred('sig'), Encryption: cred('enc'), Archived: [cred('old')] });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, '');
    const up = uem.uploads.at(-1)!;
    assert.equal(up.userId, user.id);
    assert.equal(String(up.signing!.payload), 'sig');
    assert.equal(up.signing!.password, 'pw');
    assert.equal(String(up.encryption!.payload), 'enc');
    assert.deepEqual(
      up.archived.map((a) => String(a.payload)),
      ['old'],
    );
    assert.equal(up.auth, 'basic');
    const count = uem.uploads.length;

    const errorCode = async (body: unknown) => {
      const r = await send(body);
      assert.equal(r.status, 400, r.body);
      return json(r).errorCode;
    };
    assert.equal(await errorCode({}), 6042);
    assert.equal(await errorCode({ Signing: null, Encryption: null, Archived: [] }), 6042);
    assert.equal(await errorCode({ Signing: { CertificatePayload: '', Password: 'pw' } }), 6043);
    assert.equal(await errorCode({ Signing: cred('s'), Archived: Array.from({ length: 31 }, (_, i) => cred(`a${i}`)) }), 6041);
    assert.equal(await errorCode({ Signing: { CertificatePayload: 'not base64!', Password: 'pw' } }), 400);
    assert.equal(await errorCode({ signing: cred('s') }), 400);
    assert.equal(uem.uploads.length, count);

    uem.forbidSmimeUploads();
    const denied = await send({ Signing: cred('sig') });
    assert.equal(denied.status, 403);
    assert.equal(json(denied).errorCode, 1011);
    uem.forbidSmimeUploads(false);

    assert.equal((await api(`/api/system/users/999/uploadsmimecerts`, withBasic(V1, '-H', 'Content-Type: application/json', '--data', '{}'))).status, 404);
  });

  test('failNext on the API', async () => {
    uem.failNext(1, 502);
    assert.equal((await api(`/api/system/users/${user.id}`, withBasic(V1))).status, 502);
    assert.equal((await api(`/api/system/users/${user.id}`, withBasic(V1))).status, 200);
  });
});
