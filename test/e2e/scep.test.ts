/** SCEP with a real client: micromdm's scepclient (Debian package `scep`) over HTTPS. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';

interface Run {
  code: number | null;
  output: string;
}

describe('SCEP with scepclient', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let rootPem: string;

  const scepclient = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      // Go reads extra trust anchors from SSL_CERT_FILE: the dev root that signed the gateway's TLS certificate.
      execFile('scepclient', args, { env: { ...process.env, SSL_CERT_FILE: rootPem }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });
  const challenge = async (profile = 'default', binding?: Record<string, string>) => {
    const r = await curl(`${base}/api/v1/scep/challenges`, [
      ...adminCurlArgs(join(dir, 'certs')),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify({ profile, ...(binding && { binding }) }),
    ]);
    assert.equal(r.status, 201, r.body);
    return r.json().challenge as string;
  };
  // scepclient keeps csr.pem and self.pem beside the key and reuses them, so every device gets its own directory.
  const files = (name: string) => {
    mkdirSync(join(dir, 'devices', name), { recursive: true });
    return { key: join(dir, 'devices', name, 'key.pem'), cert: join(dir, 'devices', name, 'cert.pem') };
  };
  const enroll = (name: string, url: string, extra: string[] = []) => {
    const f = files(name);
    return scepclient(['-server-url', url, '-private-key', f.key, '-certificate', f.cert, '-cn', name, '-organization', 'Example Bank', ...extra]);
  };

  before(async () => {
    gw = await startTestGateway({ overrides: { scep: { profiles: { default: {}, mdm: { challenge: { static: 'static-mdm-secret' } } } } } });
    base = `https://localhost:${gw.port}`;
    dir = gw.dir;
    rootPem = join(dir, 'certs/root-ca.pem');
  });
  after(async () => {
    await gw.stop();
  });

  test('a one-time challenge is answered no-store; a ttl under a minute or over 30 days is refused', async () => {
    const ask = (body: Record<string, unknown>) =>
      curl(`${base}/api/v1/scep/challenges`, [
        ...adminCurlArgs(join(dir, 'certs')),
        '-D',
        join(dir, 'challenge-headers.txt'),
        '-X',
        'POST',
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        JSON.stringify(body),
      ]);
    const ok = await ask({ ttl: '10m' });
    assert.equal(ok.status, 201, ok.body);
    assert.match(readFileSync(join(dir, 'challenge-headers.txt'), 'utf8'), /^cache-control: no-store\r?$/im, 'a shared cache must not keep the challenge');
    for (const ttl of ['0s', '30s', '31d', '3650d']) {
      const r = await ask({ ttl });
      assert.equal(r.status, 400, ttl);
      assert.deepEqual([r.json().error, r.json().message], ['bad_request', 'ttl must be between 1m and 30d'], ttl);
      assert.doesNotMatch(r.body, /challenge"/, 'no challenge made');
    }
  });

  test('GetCACaps lists what iOS and scepclient look for; GetCACert gives CA and RA', async () => {
    const caps = await curl(`${base}/scep?operation=GetCACaps`, ['--cacert', rootPem]);
    assert.equal(caps.status, 200);
    for (const cap of ['POSTPKIOperation', 'SHA-256', 'AES', 'DES3', 'SCEPStandard', 'Renewal']) assert.ok(caps.body.split('\n').includes(cap), cap);
    const unknown = await curl(`${base}/scep?operation=GetCAChain`, ['--cacert', rootPem]);
    assert.equal(unknown.status, 400);
    const missing = await curl(`${base}/scep/nope?operation=GetCACaps`, ['--cacert', rootPem]);
    assert.equal(missing.status, 404);
  });

  test('the endpoint answers like the rest of the API: JSON errors with the request id, 405 for other methods, metrics by route template', async () => {
    const ca = ['--cacert', rootPem];
    const caps = await curl(`${base}/scep/mdm?operation=GetCACaps`, [...ca, '-D', '-', '-H', 'X-Request-Id: scep-trace-1']);
    assert.match(caps.body, /x-request-id: scep-trace-1/i);
    assert.match(caps.body, /x-content-type-options: nosniff/i);
    assert.match(caps.body, /strict-transport-security: max-age=/i);
    const missing = await curl(`${base}/scep/nope?operation=GetCACaps`, [...ca, '-H', 'X-Request-Id: scep-trace-2']);
    assert.deepEqual(missing.json(), { error: 'not_found', message: 'no SCEP profile "nope"', requestId: 'scep-trace-2' });
    const put = await curl(`${base}/scep?operation=PKIOperation`, [...ca, '-X', 'PUT', '-D', '-']);
    assert.match(put.body, /^HTTP\/\S+ 405/);
    assert.match(put.body, /allow: GET, HEAD, POST/i);
    const deeper = await curl(`${base}/scep/mdm/extra?operation=GetCACaps`, ca);
    assert.equal(deeper.status, 404);
    const zipped = await curl(`${base}/scep?operation=PKIOperation`, [...ca, '-X', 'POST', '-H', 'Content-Encoding: gzip', '--data-binary', 'x']);
    assert.equal(zipped.status, 415);
    assert.equal(zipped.json().error, 'unsupported_encoding');
    // A client that promises a body and hangs up halfway costs nothing but its own request.
    await new Promise<void>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, servername: 'localhost', ca: readFileSync(rootPem) }, () => {
        socket.write('POST /scep/mdm?operation=PKIOperation HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n0123456789');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    assert.equal((await curl(`${base}/scep/mdm?operation=GetCACaps`, ca)).status, 200);
    assert.doesNotMatch(gw.logs(), /unhandled error/);
    const metrics = (await curl(`${base}/metrics`, adminCurlArgs(join(dir, 'certs')))).body;
    assert.match(metrics, /credgate_http_requests_total\{method="GET",route="\/scep\/:profile",status="200"\} \d+/);
    assert.match(metrics, /credgate_http_requests_total\{method="GET",route="\/scep\/:profile",status="404"\} \d+/);
  });

  let firstSerial = '';
  test('first enrollment with a one-time challenge: the certificate chains to the issuing CA and is recorded', async () => {
    const url = `${base}/scep`;
    const first = await enroll('device-1', url, ['-challenge', await challenge()]);
    assert.equal(first.code, 0, first.output);
    const cert = new X509Certificate(readFileSync(files('device-1').cert));
    assert.match(cert.subject, /CN=device-1/);
    assert.match(cert.issuer, /Issuing CA/);
    const issuing = new X509Certificate(readFileSync(join(dir, 'certs/issuing-ca.pem')));
    assert.ok(cert.verify(issuing.publicKey), 'issued by the dev issuing CA');
    const row = await gw.db('scep_transactions').where({ serial: cert.serialNumber.toLowerCase() }).first();
    assert.equal(row?.status, 'issued');
    assert.equal(row?.message_type, 'PKCSReq');
    firstSerial = cert.serialNumber;
  });

  test('renewal signed by the issued certificate: a new certificate, though scepclient reuses the transactionID', async () => {
    const url = `${base}/scep`;
    // With a certificate present, scepclient sends a RenewalReq signed by it: no challenge needed.
    const renewal = await enroll('device-1', url);
    assert.equal(renewal.code, 0, renewal.output);
    const renewed = new X509Certificate(readFileSync(files('device-1').cert));
    assert.notEqual(renewed.serialNumber, firstSerial);
    const renewRow = await gw.db('scep_transactions').where({ serial: renewed.serialNumber.toLowerCase() }).first();
    assert.equal(renewRow?.message_type, 'RenewalReq');
    assert.equal(renewRow?.renews, firstSerial.toLowerCase());

    // Renewing again, now signed by the renewed certificate, is another request again.
    const again = await enroll('device-1', url);
    assert.equal(again.code, 0, again.output);
    assert.notEqual(new X509Certificate(readFileSync(files('device-1').cert)).serialNumber, renewed.serialNumber);
  });

  test('a wrong or replayed challenge gets FAILURE and no certificate', async () => {
    const url = `${base}/scep`;
    const before = Number((await gw.db('certificates').count({ n: '*' }).first())?.n);
    const wrong = await enroll('device-wrong', url, ['-challenge', 'not-a-valid-challenge']);
    assert.notEqual(wrong.code, 0, wrong.output);
    assert.match(wrong.output, /request failed, failInfo: badRequest/);
    assert.ok(!existsSync(files('device-wrong').cert));

    const once = await challenge();
    const first = await enroll('device-once', url, ['-challenge', once]);
    assert.equal(first.code, 0, first.output);
    const replay = await enroll('device-replay', url, ['-challenge', once]);
    assert.notEqual(replay.code, 0, 'a one-time challenge works once');
    assert.equal(Number((await gw.db('certificates').count({ n: '*' }).first())?.n), before + 1);
  });

  test('a client that pins the RA by fingerprint encrypts to it alone and enrolls', async () => {
    // scepclient's -ca-fingerprint keeps only the matching GetCACert certificate as recipient; the RA is the one that decrypts.
    const ra = new X509Certificate(readFileSync(join(dir, 'certs/scep-ra.pem')));
    const pinned = await enroll('pinned-device', `${base}/scep`, ['-challenge', await challenge(), '-ca-fingerprint', ra.fingerprint256.replace(/:/g, '')]);
    assert.equal(pinned.code, 0, pinned.output);
    const cert = new X509Certificate(readFileSync(files('pinned-device').cert));
    assert.match(cert.subject, /CN=pinned-device/);
  });

  test('a static challenge profile for MDM-driven enrollment', async () => {
    const ok = await enroll('mdm-device', `${base}/scep/mdm`, ['-challenge', 'static-mdm-secret']);
    assert.equal(ok.code, 0, ok.output);
    const bad = await enroll('mdm-device-2', `${base}/scep/mdm`, ['-challenge', 'static-mdm-secreT']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /failInfo: badRequest/);
  });

  test('a challenge bound to a subject attribute only works for that subject', async () => {
    const bound = await challenge('default', { CN: 'bound-device' });
    const other = await enroll('other-device', `${base}/scep`, ['-challenge', bound]);
    assert.notEqual(other.code, 0);
    assert.match(other.output, /failInfo: badRequest/);
    const bound2 = await challenge('default', { CN: 'bound-device' });
    const right = await enroll('bound-device', `${base}/scep`, ['-challenge', bound2]);
    assert.equal(right.code, 0, right.output);
  });
});
