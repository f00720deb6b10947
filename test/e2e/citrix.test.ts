/**
 * The Citrix connector end to end, as XenMobile uses it: curl submits
 * openssl-made requests to certsrv's certfnsh.asp (form-encoded, Basic or
 * mTLS), scrapes the ReqID, fetches certnew.cer and the CA certificate;
 * OpenSSL verifies the chain and asks the OCSP responder named in the
 * certificate; a XenMobile stand-in retires and removes devices and the
 * poller's unenroll events revoke exactly their certificates.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { citrix } from '../../connectors/citrix/index.js';
import { citrixSchema, type CitrixSettings } from '../../connectors/citrix/schema.js';
import { parseYaml } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ConnectorContext } from '../../src/connectors/module.js';
import { allowTestClient, citrixSettings, connectorYaml, writeConnectorFile, type Settings } from '../helpers/connector-files.js';
import { curl, type CurlResult } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { makeTestTls, writeTestTlsFiles, type TestTls, type TestTlsFiles } from '../helpers/ws1-standins.js';
import { startXenMobile, type XenMobileStandin } from '../helpers/xenmobile-standin.js';

const PKI_PASSWORD = 'xenmobile-pki-entity-pw-42';
const XM_PASSWORD = 'xms-api-password-9f3a';

describe('Citrix connector', () => {
  let dir: string;
  let tls: TestTls;
  let files: TestTlsFiles;
  let xm: XenMobileStandin;
  let other: XenMobileStandin;
  let gw: TestGateway;
  let base: string;
  let port: number;
  const ca = () => ['--cacert', join(dir, 'certs/root-ca.pem')];
  const basic = (password = PKI_PASSWORD) => ['-u', `xm-pki:${password}`];
  let n = 0;

  /** The connector file for XenMobile at `url`; its secrets are ${VAR} placeholders unless given. */
  const connector = (url: string, o: { clientCertificates?: Settings; pkiPassword?: string; xmPassword?: string } = {}) =>
    citrixSettings({
      pkiPassword: o.pkiPassword ?? '${CITRIX_TEST_PKI_PASSWORD}',
      clientCertificates: o.clientCertificates,
      templates: { XenMobileUser: 'tls-client', XenMobileSMIME: 'smime-signing', XenMobileEncryption: 'smime-encryption' },
      xenmobile: { url, password: o.xmPassword ?? '${CITRIX_TEST_XM_PASSWORD}', serverCa: files.ca, pollEvery: '200ms', pageSize: 2 },
    });

  const startGateway = () =>
    startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: `https://localhost:${port}` },
        connectors: { dir: join(dir, 'connectors') },
        jobs: { pollInterval: '50ms', backoff: { base: '100ms', max: '400ms' } },
      },
    });

  /** A key and PKCS#10 request made by openssl, as XenMobile's credential provider makes them. */
  const makeCsr = (subject: string, san?: string): string => {
    const name = `req-${++n}`;
    openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.csr`),
      '-utf8',
      '-subj',
      subject,
      ...(san ? ['-addext', `subjectAltName=${san}`] : []),
    ]);
    return readFileSync(join(dir, `${name}.csr`), 'utf8');
  };

  /** POST certfnsh.asp exactly as a certsrv client does: form fields, the request with CRLF line ends and NEW CERTIFICATE REQUEST armour. */
  const submit = (csrPem: string, template: string, auth: string[] = basic(), connector = 'xm', moreAttributes = ''): Promise<CurlResult> => {
    const name = `form-${++n}`;
    writeFileSync(join(dir, `${name}.req`), csrPem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST').replace(/\r?\n/g, '\r\n'));
    writeFileSync(join(dir, `${name}.attr`), `CertificateTemplate:${template}\r\nUserAgent:XenMobile\r\n${moreAttributes}`);
    return curl(`${base}/connectors/${connector}/certsrv/certfnsh.asp`, [
      ...ca(),
      ...auth,
      '-H',
      'Content-Type: application/x-www-form-urlencoded',
      '--data-urlencode',
      'Mode=newreq',
      '--data-urlencode',
      `CertRequest@${join(dir, `${name}.req`)}`,
      '--data-urlencode',
      `CertAttrib@${join(dir, `${name}.attr`)}`,
      '--data-urlencode',
      'FriendlyType=Saved-Request Certificate',
      '--data-urlencode',
      'TargetStoreFlags=0',
      '--data-urlencode',
      'SaveCert=yes',
    ]);
  };
  const reqIdOf = (page: CurlResult): number => {
    const m = /certnew\.cer\?ReqID=(\d+)&/.exec(page.body);
    assert.ok(m, `no ReqID on the page: ${page.body}`);
    return Number(m[1]);
  };
  const dispositionOf = (page: CurlResult): string => /The disposition message is "([^"]+)/.exec(page.body)?.[1] ?? '';
  /** Fetches the certificate by ReqID (PEM) into a file; returns its path and the Content-Type. */
  const fetchCert = async (reqId: number | string, connector = 'xm'): Promise<{ file: string; status: number; body: string; type: string }> => {
    const file = join(dir, `cert-${++n}.pem`);
    const headers = join(dir, `headers-${n}.txt`);
    const r = await curl(`${base}/connectors/${connector}/certsrv/certnew.cer?ReqID=${reqId}&Enc=b64`, [...ca(), ...basic(), '-D', headers]);
    writeFileSync(file, r.body);
    const type = /content-type:\s*([^\r\n]+)/i.exec(readFileSync(headers, 'utf8'))?.[1] ?? '';
    return { file, status: r.status, body: r.body, type };
  };
  const caFile = () => join(dir, 'certsrv-ca.pem');
  /**
   * openssl ocsp for the certificate, at the responder its AIA names. The
   * gateway runs in this process, so openssl writes the request, curl carries
   * it (openssl would block the event loop the gateway answers on) and
   * openssl checks the answer.
   */
  const ocsp = async (certFile: string): Promise<string> => {
    const url = openssl(['x509', '-in', certFile, '-noout', '-ocsp_uri']).trim();
    assert.equal(url, `https://localhost:${port}/pki/ocsp`, 'the AIA OCSP URL is the gateway responder');
    const [req, resp] = [join(dir, `ocsp-${++n}.req`), join(dir, `ocsp-${n}.resp`)];
    openssl(['ocsp', '-issuer', caFile(), '-cert', certFile, '-no_nonce', '-reqout', req]);
    const r = await curl(url, [...ca(), '-H', 'Content-Type: application/ocsp-request', '--data-binary', `@${req}`, '-o', resp]);
    assert.equal(r.status, 200);
    const out = openssl([
      'ocsp',
      '-respin',
      resp,
      '-issuer',
      caFile(),
      '-cert',
      certFile,
      '-CAfile',
      join(dir, 'certs/root-ca.pem'),
      '-verify_other',
      caFile(),
      '-no_nonce',
    ]);
    assert.match(out, /Response verify OK/);
    return /: (good|revoked|unknown)/.exec(out)?.[1] ?? out;
  };
  const count = async (table: string) => Number((await gw.db(table).count({ n: '*' }).first())?.n);

  before(async () => {
    dir = tempDir();
    tls = await makeTestTls();
    files = writeTestTlsFiles(tls, dir);
    xm = await startXenMobile({ cert: tls.server.cert, key: tls.server.key, login: 'credgate-api', password: XM_PASSWORD });
    other = await startXenMobile({ cert: tls.server.cert, key: tls.server.key, login: 'credgate-api', password: XM_PASSWORD });
    for (const [id, serial, user] of [
      [101, 'F2LXK1AAAA01', 'alice@example.com'],
      [102, 'F2LXK1AAAA02', 'bob@example.com'],
      [103, 'F2LXK1AAAA03', 'carol@example.com'],
      [104, 'F2LXK1AAAA04', 'dave@example.com'],
      [105, 'F2LXK1AAAA05', 'erin@example.com'],
      [106, 'F2LXK1AAAA06', 'alice@example.com'],
    ] as const) {
      xm.addDevice({ id, serialNumber: serial, userName: user });
    }
    writeConnectorFile(join(dir, 'connectors'), 'xm', connector(xm.url, { clientCertificates: allowTestClient(tls, files) }));
    writeConnectorFile(join(dir, 'connectors'), 'xm2', connector(other.url));
    process.env.CITRIX_TEST_PKI_PASSWORD = PKI_PASSWORD;
    process.env.CITRIX_TEST_XM_PASSWORD = XM_PASSWORD;
    port = await freePort();
    gw = await startGateway();
    base = `https://localhost:${port}`;
    const cacert = await curl(`${base}/connectors/xm/certsrv/certnew.cer?ReqID=CACert&Renewal=0&Enc=b64`, [...ca(), ...basic()]);
    assert.equal(cacert.status, 200);
    writeFileSync(caFile(), cacert.body);
  });
  after(async () => {
    await gw?.stop();
    await xm?.stop();
    await other?.stop();
  });

  test("the certsrv pages answer the PKI entity's credentials only: Basic, or an allowed client certificate", async () => {
    const landing = await curl(`${base}/connectors/xm/certsrv/`, [...ca(), ...basic()]);
    assert.equal(landing.status, 200);
    assert.match(landing.body, /certfnsh\.asp/);
    assert.match((await curl(`${base}/connectors/xm/certsrv/certcarc.asp`, [...ca(), ...basic()])).body, /var nRenewals=0;/);
    assert.equal((await curl(`${base}/connectors/xm/certsrv/`, [...ca(), ...basic('wrong-password-123')])).status, 401);
    assert.equal((await curl(`${base}/connectors/xm/certsrv/`, ca())).status, 401);
    assert.equal((await curl(`${base}/connectors/xm/certsrv/`, [...ca(), '--cert', files.clientCert, '--key', files.clientKey])).status, 200);
    assert.equal((await curl(`${base}/connectors/xm/certsrv/`, [...ca(), '--cert', files.otherClientCert, '--key', files.otherClientKey])).status, 401);
    // The CA certificate served is the dev issuing CA, which chains to the root.
    assert.match(openssl(['verify', '-CAfile', join(dir, 'certs/root-ca.pem'), caFile()]), /OK/);
  });

  test('a request submitted as XenMobile does is issued; the certificate fetched by ReqID verifies and OCSP says good', async () => {
    const page = await submit(makeCsr('/CN=alice/serialNumber=F2LXK1AAAA01', 'email:alice@example.com'), 'XenMobileUser');
    assert.equal(page.status, 200);
    assert.match(page.body, /Certificate Issued/);
    const reqId = reqIdOf(page);
    // The page as ADCS writes it: links with &amp;, the script a browser runs, and the request id in words.
    assert.match(page.body, new RegExp(`href="certnew\\.cer\\?ReqID=${reqId}&amp;Enc=b64"`));
    assert.match(page.body, new RegExp(`href="certnew\\.p7b\\?ReqID=${reqId}&amp;Enc=bin"`));
    assert.match(page.body, new RegExp(`location="certnew\\.cer\\?ReqID=${reqId}&"\\+getEncoding\\(\\);`));
    assert.match(page.body, new RegExp(`Your Request Id is ${reqId}\\.`));
    assert.doesNotMatch(page.body, /href="[^"]*&(?!amp;)/, 'no bare & in an attribute');
    const cert = await fetchCert(reqId);
    assert.equal(cert.status, 200);
    assert.equal(cert.type, 'application/pkix-cert', 'the bare type: certsrv clients compare it whole');
    assert.match(cert.body, /^-----BEGIN CERTIFICATE-----\r\n/);
    assert.match(openssl(['verify', '-CAfile', join(dir, 'certs/root-ca.pem'), '-untrusted', caFile(), cert.file]), /: OK/);
    const text = openssl(['x509', '-in', cert.file, '-noout', '-text']);
    assert.match(text, /Subject: CN = alice, serialNumber = F2LXK1AAAA01/);
    assert.match(text, /TLS Web Client Authentication/, 'the mapped template (tls-client) decided the usage');
    assert.equal(await ocsp(cert.file), 'good');

    // DER and the PKCS#7 chain are the same certificate.
    const der = join(dir, 'alice.der');
    await curl(`${base}/connectors/xm/certsrv/certnew.cer?ReqID=${reqId}&Enc=bin`, [...ca(), ...basic(), '-o', der]);
    assert.equal(openssl(['x509', '-inform', 'DER', '-in', der, '-noout', '-serial']), openssl(['x509', '-in', cert.file, '-noout', '-serial']));
    const p7 = await curl(`${base}/connectors/xm/certsrv/certnew.p7b?ReqID=${reqId}&Enc=b64`, [...ca(), ...basic()]);
    writeFileSync(join(dir, 'alice.p7b'), p7.body);
    assert.equal((openssl(['pkcs7', '-in', join(dir, 'alice.p7b'), '-print_certs', '-noout']).match(/subject=/g) ?? []).length, 3, 'leaf, issuing CA, root');

    const row = await gw
      .db('certificates')
      .where({ serial: openssl(['x509', '-in', cert.file, '-noout', '-serial']).trim().slice(7).toLowerCase() })
      .first();
    assert.equal(row.device_id, 'F2LXK1AAAA01', 'linked to the device named in the request');
    assert.equal(row.user_id, 'alice@example.com');
  });

  test('a client certificate on the allowlist may submit; one that is not is refused and nothing is issued', async () => {
    const before = await count('certificates');
    const refused = await submit(makeCsr('/CN=bob/serialNumber=F2LXK1AAAA02'), 'XenMobileUser', [
      '--cert',
      files.otherClientCert,
      '--key',
      files.otherClientKey,
    ]);
    assert.equal(refused.status, 401);
    assert.equal(await count('certificates'), before);
    const page = await submit(makeCsr('/CN=bob/serialNumber=F2LXK1AAAA02'), 'XenMobileUser', ['--cert', files.clientCert, '--key', files.clientKey]);
    assert.equal(page.status, 200, page.body);
    const cert = await fetchCert(reqIdOf(page));
    assert.equal(await ocsp(cert.file), 'good');
    const logged = gw
      .logs()
      .split('\n')
      .find((l) => l.includes('certsrv certificate issued') && l.includes('F2LXK1AAAA02'));
    assert.match(logged ?? '', /client certificate CN=credgate-ws1-connector/, 'the requester is recorded by its certificate');
  });

  test('an email address in another case is issued lower-case, with a warning naming the address as requested', async () => {
    const page = await submit(
      makeCsr('/CN=Alice Example/emailAddress=Alice.Example@Example.COM/serialNumber=F2LXK1AAAA01', 'email:Alice.Example@Example.COM'),
      'XenMobileSMIME',
    );
    const cert = await fetchCert(reqIdOf(page));
    const text = openssl(['x509', '-in', cert.file, '-noout', '-text']);
    assert.match(text, /email:alice\.example@example\.com/);
    assert.match(text, /emailAddress = alice\.example@example\.com/);
    assert.doesNotMatch(text, /Example\.COM/);
    const warning = gw
      .logs()
      .split('\n')
      .find((l) => l.includes('email address lower-cased for the Citrix credential store'));
    assert.ok(warning, 'a warning was logged');
    assert.equal(JSON.parse(warning).level, 40);
    assert.deepEqual(JSON.parse(warning).requested, ['Alice.Example@Example.COM']);
  });

  test('request attributes never add names: a SAN attribute is ignored', async () => {
    const page = await submit(
      makeCsr('/CN=erin/serialNumber=F2LXK1AAAA05', 'email:erin@example.com'),
      'XenMobileUser',
      basic(),
      'xm',
      'SAN:email=ceo@example.com&upn=administrator@corp.example\r\n',
    );
    const text = openssl(['x509', '-in', (await fetchCert(reqIdOf(page))).file, '-noout', '-text']);
    assert.match(text, /email:erin@example\.com/);
    assert.doesNotMatch(text, /ceo@example\.com|administrator/);
    assert.ok(
      gw
        .logs()
        .split('\n')
        .some((l) => l.includes('certsrv request attributes ignored') && l.includes('"san"')),
    );
  });

  test("names come from the connector's policy: extra names, other subjectAltName forms and invisible characters are denied and audited; usages come from the template", async () => {
    const before = await count('certificates');
    const denied: [string, string | undefined, RegExp][] = [
      ['/CN=mallory/CN=domain.admin/serialNumber=F2LXK1AAAA07', undefined, /2 CN attributes/],
      ['/CN=mallory/OU=Staff/OU=Domain Admins/serialNumber=F2LXK1AAAA07', undefined, /2 OU attributes/],
      ['/CN=mallory/O=Example Bank/O=Other Bank/serialNumber=F2LXK1AAAA07', undefined, /2 O attributes/],
      ['/CN=mallory/serialNumber=F2LXK1AAAA07', 'DNS:login.example.com', /dns subjectAltName/],
      ['/CN=mallory/serialNumber=F2LXK1AAAA07', 'IP:10.0.0.1', /ip subjectAltName/],
      ['/CN=mallory/serialNumber=F2LXK1AAAA07', 'URI:https://login.example.com/', /uri subjectAltName/],
      ['/CN=mallory/serialNumber=F2LXK1AAAA07', 'email:mallory@example.com,email:ceo@example.com', /2 email subjectAltNames/],
      ['/CN=mallory/serialNumber=F2LXK1AAAA07', 'otherName:1.3.6.1.5.5.7.8.9;UTF8:admin@example.com', /never certified: otherName/],
      ['/CN=mallory\u202Efdp.exe/serialNumber=F2LXK1AAAA07', undefined, /U\+202E/],
    ];
    for (const [subject, san, reason] of denied) {
      const page = await submit(makeCsr(subject, san), 'XenMobileUser');
      assert.equal(page.status, 200);
      assert.match(page.body, /Certificate Request Denied/, `${subject} ${san ?? ''}`);
      assert.match(dispositionOf(page), reason);
    }
    assert.equal(await count('certificates'), before, 'nothing was issued');
    const audited = await gw.db('audit').where({ action: 'certsrv.refuse' }).select('reason');
    assert.equal(audited.length, denied.length, 'each denial is audited with its reason');

    // What the policy allows is issued, with the template's usages whatever the request asks for.
    const name = `req-${++n}`;
    openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.csr`),
      '-subj',
      '/CN=mallory/serialNumber=F2LXK1AAAA07',
      '-addext',
      'subjectAltName=email:mallory@example.com,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:mallory@example.com',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'extendedKeyUsage=serverAuth,codeSigning',
    ]);
    const page = await submit(readFileSync(join(dir, `${name}.csr`), 'utf8'), 'XenMobileUser');
    const text = openssl(['x509', '-in', (await fetchCert(reqIdOf(page))).file, '-noout', '-text']);
    assert.match(text, /email:mallory@example\.com, othername: ?UPN:: ?mallory@example\.com/);
    assert.doesNotMatch(text, /CA:TRUE|Code Signing|TLS Web Server/);
  });

  test('bad input gets a denial page that says why, and nothing is issued', async () => {
    const before = { certs: await count('certificates'), requests: await count('citrix_certsrv_requests') };
    const good = makeCsr('/CN=erin/serialNumber=F2LXK1AAAA05');

    const unknown = await submit(good, 'WebServer');
    assert.equal(unknown.status, 200, 'as ADCS: the page carries the refusal');
    assert.match(unknown.body, /Certificate Request Denied/);
    assert.doesNotMatch(unknown.body, /ReqID=|Your Request Id is/);
    assert.match(
      dispositionOf(unknown),
      /^Denied by Policy Module 0x80094800, The request was for a certificate template that is not supported by the Active Directory Certificate Services policy: WebServer \(mapped: XenMobileUser, XenMobileSMIME, XenMobileEncryption\)$/,
    );
    assert.ok(
      gw
        .logs()
        .split('\n')
        .some((l) => l.includes('certsrv request denied') && l.includes('"adcsTemplate":"WebServer"') && l.includes('"level":40')),
      'logged as a warning',
    );

    assert.match(
      dispositionOf(await submit('-----BEGIN CERTIFICATE REQUEST-----\nMIIBnotarequest\n-----END CERTIFICATE REQUEST-----\n', 'XenMobileUser')),
      /^Error Parsing Request: /,
    );
    // The signature no longer matches the request once a byte of the name changes.
    const tampered = good.replace(/-----[^-]+-----|\s/g, '');
    const der = Buffer.from(tampered, 'base64');
    der[der.indexOf(Buffer.from('erin'))] = 0x45; // "Erin"
    assert.match(
      dispositionOf(await submit(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`, 'XenMobileUser')),
      /signature of the certificate request does not verify/,
    );
    assert.match(dispositionOf(await submit(makeCsr('/CN=nodevice'), 'XenMobileUser')), /names no device \(expected a subject serialNumber\)/);
    assert.match(dispositionOf(await submit(good, 'XenMobileEncryption')), /escrows keys/);

    const noTemplate = await curl(`${base}/connectors/xm/certsrv/certfnsh.asp`, [
      ...ca(),
      ...basic(),
      '--data-urlencode',
      'Mode=newreq',
      '--data-urlencode',
      `CertRequest=${good}`,
    ]);
    assert.match(dispositionOf(noTemplate), /names no certificate template/);
    const noRequest = await curl(`${base}/connectors/xm/certsrv/certfnsh.asp`, [
      ...ca(),
      ...basic(),
      '--data',
      'Mode=newreq&CertAttrib=CertificateTemplate:XenMobileUser',
    ]);
    assert.match(dispositionOf(noRequest), /no CertRequest/);
    const huge = join(dir, 'huge.form');
    writeFileSync(huge, `Mode=newreq&CertRequest=${'A'.repeat(200 * 1024)}`);
    const tooLarge = await curl(`${base}/connectors/xm/certsrv/certfnsh.asp`, [
      ...ca(),
      ...basic(),
      '-H',
      'Content-Type: application/x-www-form-urlencoded',
      '--data-binary',
      `@${huge}`,
    ]);
    assert.equal(tooLarge.status, 413);
    assert.match(dispositionOf(tooLarge), /exceeds 65536 bytes/);

    assert.deepEqual({ certs: await count('certificates'), requests: await count('citrix_certsrv_requests') }, before);
  });

  test('the certificate and its request id commit together: when the request row cannot be written, no certificate exists', async () => {
    const before = await count('certificates');
    await gw.db.raw("CREATE TRIGGER fail_certsrv BEFORE INSERT ON citrix_certsrv_requests BEGIN SELECT RAISE(ABORT, 'disk gone'); END");
    try {
      const page = await submit(makeCsr('/CN=erin/serialNumber=F2LXK1AAAA05'), 'XenMobileUser');
      assert.equal(page.status, 500, "our fault, not the request's");
    } finally {
      await gw.db.raw('DROP TRIGGER fail_certsrv');
    }
    assert.equal(await count('certificates'), before, 'the issuance rolled back with the request row');
  });

  test("unknown request ids, and another connector's, are not found: a 200 error page, as ADCS answers", async () => {
    const page = await submit(makeCsr('/CN=carol/serialNumber=F2LXK1AAAA03'), 'XenMobileUser');
    const reqId = reqIdOf(page);
    assert.equal((await fetchCert(reqId)).status, 200);
    for (const [id, connector] of [
      [reqId, 'xm2'],
      [999_999, 'xm'],
      ['abc', 'xm'],
      [-1, 'xm'],
    ] as const) {
      const missing = await fetchCert(id, connector);
      assert.equal(missing.status, 200, `ReqID=${id} at ${connector}`);
      assert.equal(missing.type, 'text/html; charset=utf-8');
      // Where certsrv clients cut the message out: markup after the label, then two tabs and the text up to the line end.
      assert.equal(/Disposition message:[^\t]+\t\t([^\r\n]+)/.exec(missing.body)?.[1], `Requested entry not found: request ID '${id}' is unknown to this CA`);
      assert.match(missing.body, /LastStatus:[^\t]+\t\tThe request does not exist\. 0x80094002/);
    }
    const renewal = await curl(`${base}/connectors/xm/certsrv/certnew.cer?ReqID=CACert&Renewal=3&Enc=b64`, [...ca(), ...basic()]);
    assert.equal(renewal.status, 200);
    assert.match(renewal.body, /Disposition message:[^\t]+\t\tCA certificate renewal 3 does not exist/);
    assert.equal((await curl(`${base}/connectors/xm/certsrv/certnew.cer?ReqID=${reqId}&Enc=pem`, [...ca(), ...basic()])).status, 400);
  });

  test("a device XenMobile retires gets its certificates revoked (OCSP: revoked); other devices, the same user's too, keep theirs", async () => {
    const alice = await fetchCert(1);
    const bob = await fetchCert(2);
    const aliceTablet = await fetchCert(reqIdOf(await submit(makeCsr('/CN=alice/serialNumber=F2LXK1AAAA06', 'email:alice@example.com'), 'XenMobileUser')));
    assert.equal(await ocsp(alice.file), 'good');
    xm.retire(101);
    const event = await until(
      'the unenroll event',
      async () =>
        (await gw.db('mdm_events').where({ connector_id: 'xm', device_id: 'F2LXK1AAAA01' }).first()) as { type: string; vendor_type: string } | undefined,
      5000,
    );
    assert.deepEqual([event.type, event.vendor_type], ['unenrolled', 'device retired']);
    await until('the revocation', async () => (await ocsp(alice.file)) === 'revoked', 5000, 200);
    const rows = (await gw.db('certificates').where({ device_id: 'F2LXK1AAAA01' })) as { status: string; revocation_reason: string }[];
    assert.ok(rows.length >= 2 && rows.every((r) => r.status === 'revoked' && r.revocation_reason === 'cessationOfOperation'), JSON.stringify(rows));
    assert.equal(await ocsp(bob.file), 'good', "another device's certificate stays valid");
    assert.equal(await ocsp(aliceTablet.file), 'good', "and so does the user's other device");
    await sleep(600);
    assert.equal(
      Number((await gw.db('mdm_events').where({ connector_id: 'xm', device_id: 'F2LXK1AAAA01' }).count({ n: '*' }).first())?.n),
      1,
      'one event, however often the device is listed retired',
    );
  });

  test('a removed device is revoked only after a complete listing and XenMobile confirms it is gone', async () => {
    const page = await submit(makeCsr('/CN=dave/serialNumber=F2LXK1AAAA04'), 'XenMobileUser');
    const dave = await fetchCert(reqIdOf(page));
    await until('device 104 known to the poller', async () => (await gw.db('citrix_devices').where({ connector_id: 'xm', xm_id: '104' }).first()) as unknown);
    const lists = () => xm.requests.filter((r) => r.path.endsWith('/device/filter')).length;
    const before = lists();
    xm.failList(Infinity);
    xm.remove(104);
    await until('three failed listings', () => lists() >= before + 3, 5000);
    assert.equal(await ocsp(dave.file), 'good', 'a failed listing marks nothing');
    assert.equal(await gw.db('mdm_events').where({ connector_id: 'xm', device_id: 'F2LXK1AAAA04' }).first(), undefined);
    xm.failList(0);
    await until('the revocation once the list reads again', async () => (await ocsp(dave.file)) === 'revoked', 5000, 200);
    const event = await gw.db('mdm_events').where({ connector_id: 'xm', device_id: 'F2LXK1AAAA04' }).first();
    assert.equal(event.vendor_type, 'device removed');
    // The list was read in pages of two, and the missing device looked up before it counted as removed.
    assert.ok(xm.requests.some((r) => r.path.endsWith('/device/filter') && (r.body as { start: number }).start === 2));
    assert.ok(xm.requests.some((r) => r.path.endsWith('/device/104')));
  });

  test('an expired auth_token is refused once, then the poller logs in again and lists with the new token', async () => {
    const mark = xm.requests.length;
    const oldTokens = new Set(xm.requests.map((r) => r.token).filter(Boolean));
    xm.expireTokens();
    const lists = (r: (typeof xm.requests)[number]) => r.path.endsWith('/device/filter');
    await until('a listing with a new token', () => xm.requests.slice(mark).some((r) => lists(r) && r.status === 200 && !oldTokens.has(r.token)), 3000);
    const after = xm.requests.slice(mark);
    const refused = after.findIndex((r) => lists(r) && r.status === 401 && oldTokens.has(r.token));
    const login = after.findIndex((r) => r.path.endsWith('/authentication/login') && r.status === 200);
    const relisted = after.findIndex((r) => lists(r) && r.status === 200);
    assert.ok(refused >= 0 && refused < login && login < relisted, JSON.stringify(after.map((r) => [r.path, r.status])));
    assert.ok(!after.slice(0, refused).some((r) => lists(r) && r.status === 200), 'no listing succeeded with an expired token');
  });

  test('check(): logs in to XenMobile, and names the failure when it cannot', async () => {
    const settings = parseYaml(
      connectorYaml(connector(xm.url, { pkiPassword: PKI_PASSWORD, xmPassword: XM_PASSWORD })),
      'xm.yaml',
      citrixSchema,
    ) as CitrixSettings;
    // check() needs XenMobile only; building the connector takes just enough of the gateway.
    const ctx = { id: 'xm-check', log: pino({ level: 'silent' }), db: gw.db, pki: { caOf: () => ({ name: 'dev' }) } } as unknown as ConnectorContext;
    const ok = await citrix.check(settings, 'xm-check');
    assert.deepEqual(
      ok.checks.map((c) => [c.name, c.ok]),
      [['xenmobile login', true]],
    );
    const bad = await citrix.check({ ...settings, xenmobile: { ...settings.xenmobile, password: 'not-the-password' } }, 'xm-check');
    assert.equal(bad.ok, false);
    assert.match(bad.checks[0]!.detail!, /login as credgate-api failed: HTTP 401 \(check the login and password\)/);
    assert.doesNotMatch(bad.checks[0]!.detail!, /not-the-password/);
    assert.throws(
      () => citrix.create({ ...settings, xenmobile: { ...settings.xenmobile, serverCa: join(dir, 'missing-ca.pem') } }, ctx),
      /xenmobile\.serverCa: cannot read .*missing-ca\.pem \(ENOENT\)/,
    );
  });

  test('the example connector file is valid', () => {
    const text = readFileSync('config/connectors/examples/citrix.yaml', 'utf8');
    const settings = parseYaml(text, 'citrix.yaml', citrixSchema, {
      env: { CITRIX_PKI_PASSWORD: 'example-password-123', XENMOBILE_API_PASSWORD: 'x' },
    }) as CitrixSettings;
    assert.deepEqual(settings.policy.deviceTemplates, ['tls-client', 'smime-signing']);
    assert.equal(settings.policy.onUnenroll, 'revoke-signing');
    assert.throws(
      () =>
        parseYaml(text.replace('field: serialNumber ', 'field: imei '), 'citrix.yaml', citrixSchema, {
          env: { CITRIX_PKI_PASSWORD: 'example-password-123', XENMOBILE_API_PASSWORD: 'x' },
        }),
      /certsrv\.device\.field/,
    );
  });

  test('secrets stay out of the log', () => {
    const logs = gw.logs();
    assert.ok(!logs.includes(XM_PASSWORD), 'XenMobile password');
    assert.ok(!logs.includes(PKI_PASSWORD), 'PKI entity password');
    for (const token of new Set(xm.requests.map((r) => r.token).filter(Boolean))) assert.ok(!logs.includes(token!), 'auth_token');
    // Should a XenMobile header or login answer ever reach the logger, the token is redacted.
    let line = '';
    const write = (s: string) => {
      line += s;
    };
    const log = createLogger({ level: 'info', destination: { write } });
    log.info({ headers: { auth_token: 'tok-5e2b9c' }, answer: { auth_token: 'tok-5e2b9c' } }, 'xenmobile call');
    assert.match(line, /"auth_token":"\[Redacted\]"/);
    assert.doesNotMatch(line, /tok-5e2b9c/);
  });

  test('after a restart the request id still fetches the same certificate, and no departure is reported twice', async () => {
    const before = await fetchCert(1);
    const events = await count('mdm_events');
    await gw.stop();
    gw = await startGateway();
    const after = await fetchCert(1);
    assert.equal(after.status, 200);
    assert.equal(after.body, before.body);
    await sleep(800);
    assert.equal(await count('mdm_events'), events, 'the devices seen before the restart are remembered');
  });
});
