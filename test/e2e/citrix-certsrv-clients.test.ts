/**
 * The Citrix connector's certsrv endpoint against the certsrv clients of
 * test/helpers/certsrv-clients.ts, each sending its own requests and reading
 * the answers by its own rules: the Python certsrv library 2.1.1 (Basic and
 * client certificate), the Go adcs client (jimmypw/adcs) and the Go
 * cert-manager ADCS issuer (nokia/adcs-issuer). What they decide (a
 * certificate, a denial with the gateway's reason, an unknown request) is
 * what is asserted, and every certificate they get is checked against the
 * request and the CA they fetched.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CouldNotRetrieveCertificateException,
  GoAdcs,
  GoAdcsIssuer,
  GoPanic,
  PythonCertsrv,
  RequestDeniedException,
  type CertsrvSite,
} from '../helpers/certsrv-clients.js';
import { allowTestClient, citrixSettings, writeConnectorFile, type Settings } from '../helpers/connector-files.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { opensslCsr } from '../helpers/openssl-csr.js';
import { rawHttps } from '../helpers/raw-https.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, writeTestTlsFiles, type TestTls, type TestTlsFiles } from '../helpers/ws1-standins.js';
import { startXenMobile, type XenMobileStandin } from '../helpers/xenmobile-standin.js';

const PKI_PASSWORD = 'certsrv-clients-pki-pw-7c1e';
const USER = 'xm-pki';

describe('certsrv clients against the Citrix connector', () => {
  let dir: string;
  let tls: TestTls;
  let files: TestTlsFiles;
  let xm: XenMobileStandin;
  let gw: TestGateway;
  let port: number;
  let site: CertsrvSite;
  let python: PythonCertsrv;
  let caDer: Buffer;
  let serial = 0;

  const rootCa = () => readFileSync(join(dir, 'certs/root-ca.pem'));
  const target = () => ({ port, ca: rootCa() });
  const pythonAs = (credentials: ConstructorParameters<typeof PythonCertsrv>[2], connector = 'xm') =>
    new PythonCertsrv(target(), { host: `localhost:${port}`, prefix: `/connectors/${connector}` }, credentials);
  const basic = (password = PKI_PASSWORD) => ({ basic: { username: USER, password } });

  /** A request as a credential provider makes one (subject names the device), and the key it was made with; PEM with LF, as pyOpenSSL writes it. */
  const request = (cn: string) => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = opensslCsr(privateKey, { subject: `/CN=${cn}/serialNumber=F2LXC${String(++serial).padStart(7, '0')}` });
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE REQUEST-----\n`;
    return { pem, spki: publicKey.export({ type: 'spki', format: 'der' }) };
  };
  /** The certificate a client got: issued by the CA it fetched, for the key of its request. */
  const assertIssuedFor = (cert: Buffer | string, spki: Buffer, cn: string) => {
    const x = new X509Certificate(cert);
    assert.ok(x.verify(new X509Certificate(caDer).publicKey), 'signed by the CA certnew.cer?ReqID=CACert serves');
    assert.deepEqual(x.publicKey.export({ type: 'spki', format: 'der' }), spki, 'for the key of the request');
    assert.match(x.subject, new RegExp(`CN=${cn}`));
  };
  const count = async (table: string) => Number((await gw.db(table).count({ n: '*' }).first())?.n);
  const lastRequestId = async () => Number((await gw.db('citrix_certsrv_requests').max({ id: 'id' }).first())?.id);

  before(async () => {
    dir = tempDir();
    tls = await makeTestTls();
    files = writeTestTlsFiles(tls, dir);
    xm = await startXenMobile({ cert: tls.server.cert, key: tls.server.key, login: 'credgate-api', password: 'xms-api-pw-2d4f' });
    const connector = (clientCertificates?: Settings) =>
      citrixSettings({
        pkiPassword: '${CITRIX_CLIENTS_PKI_PASSWORD}',
        clientCertificates,
        xenmobile: { url: xm.url, password: 'xms-api-pw-2d4f', serverCa: files.ca, pollEvery: '1h' },
      });
    writeConnectorFile(join(dir, 'connectors'), 'xm', connector(allowTestClient(tls, files)));
    writeConnectorFile(join(dir, 'connectors'), 'xm2', connector());
    process.env.CITRIX_CLIENTS_PKI_PASSWORD = PKI_PASSWORD;
    port = await freePort();
    gw = await startTestGateway({ dir, overrides: { server: { port, publicUrl: `https://localhost:${port}` }, connectors: { dir: join(dir, 'connectors') } } });
    site = { target: target(), path: '/connectors/xm/certsrv' };
    python = pythonAs(basic());
    caDer = await python.get_ca_cert('bin');
  });
  after(async () => {
    await gw?.stop();
    await xm?.stop();
  });

  test('every download carries the bare media type ADCS sends, for each file and encoding', async () => {
    const { pem } = request('content-types');
    await python.get_cert(pem, 'XenMobileUser');
    const id = await lastRequestId();
    const types: Record<string, string> = {};
    for (const path of [
      `certnew.cer?ReqID=${id}&Enc=b64`,
      `certnew.cer?ReqID=${id}&Enc=bin`,
      `certnew.cer?ReqID=${id}`,
      `certnew.p7b?ReqID=${id}&Enc=b64`,
      `certnew.p7b?ReqID=${id}&Enc=bin`,
      'certnew.cer?ReqID=CACert&Renewal=0&Enc=b64',
      'certnew.cer?ReqID=CACert&Renewal=0&Enc=bin',
      'certnew.p7b?ReqID=CACert&Renewal=0&Enc=b64',
      'certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin',
    ]) {
      const a = await rawHttps(target(), {
        method: 'GET',
        path: `${site.path}/${path}`,
        headers: [['Authorization', `Basic ${Buffer.from(`${USER}:${PKI_PASSWORD}`).toString('base64')}`]],
      });
      assert.equal(a.status, 200, path);
      types[path] = a.headers['content-type']!;
    }
    assert.deepEqual(types, {
      [`certnew.cer?ReqID=${id}&Enc=b64`]: 'application/pkix-cert',
      [`certnew.cer?ReqID=${id}&Enc=bin`]: 'application/pkix-cert',
      [`certnew.cer?ReqID=${id}`]: 'application/pkix-cert',
      [`certnew.p7b?ReqID=${id}&Enc=b64`]: 'application/x-pkcs7-certificates',
      [`certnew.p7b?ReqID=${id}&Enc=bin`]: 'application/x-pkcs7-certificates',
      'certnew.cer?ReqID=CACert&Renewal=0&Enc=b64': 'application/pkix-cert',
      'certnew.cer?ReqID=CACert&Renewal=0&Enc=bin': 'application/pkix-cert',
      'certnew.p7b?ReqID=CACert&Renewal=0&Enc=b64': 'application/x-pkcs7-certificates',
      'certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin': 'application/x-pkcs7-certificates',
    });
  });

  test('Python certsrv 2.1.1 with Basic: get_cert (b64 and der), get_existing_cert, get_ca_cert, get_chain and check_credentials succeed', async () => {
    const pemReq = request('py-b64');
    const pemCert = await python.get_cert(pemReq.pem, 'XenMobileUser');
    assert.match(pemCert.toString('latin1'), /^-----BEGIN CERTIFICATE-----\r\n/);
    assertIssuedFor(pemCert, pemReq.spki, 'py-b64');
    const id = await lastRequestId();

    const derReq = request('py-der');
    const derCert = await python.get_cert(derReq.pem, 'XenMobileUser', 'bin');
    assert.equal(derCert[0], 0x30, 'DER');
    assertIssuedFor(derCert, derReq.spki, 'py-der');

    // The certificate issued before, fetched again by its request id, in both encodings.
    assert.deepEqual(new X509Certificate(await python.get_existing_cert(id)).raw, new X509Certificate(pemCert).raw);
    assert.deepEqual(await python.get_existing_cert(String(id), 'bin'), new X509Certificate(pemCert).raw);

    assert.deepEqual(new X509Certificate(await python.get_ca_cert()).raw, caDer, 'the newest CA certificate, PEM and DER alike');
    const chainFile = join(dir, 'chain.p7b');
    writeFileSync(chainFile, await python.get_chain());
    const chain = openssl(['pkcs7', '-inform', 'DER', '-in', chainFile, '-print_certs', '-noout']);
    assert.equal(chain.match(/subject=/g)?.length, 2, 'the issuing CA and its root');
    writeFileSync(chainFile, await python.get_chain('b64'));
    assert.equal(openssl(['pkcs7', '-in', chainFile, '-print_certs', '-noout']), chain);

    assert.equal(await python.check_credentials(), true);
    assert.equal(await pythonAs(basic('not-the-password-1')).check_credentials(), false);
  });

  test('Python certsrv 2.1.1 with a client certificate (auth_method="cert") gets its certificate the same way', async () => {
    const client = pythonAs({ cert: { cert: Buffer.from(tls.client.cert), key: Buffer.from(tls.client.key) } });
    const r = request('py-mtls');
    assertIssuedFor(await client.get_cert(r.pem, 'XenMobileUser'), r.spki, 'py-mtls');
    const other = pythonAs({ cert: { cert: Buffer.from(tls.otherClient.cert), key: Buffer.from(tls.otherClient.key) } });
    assert.equal(await other.check_credentials(), false, 'a certificate not on the allowlist is refused');
  });

  test("Python certsrv 2.1.1: denials and unknown request ids are the library's own exceptions, carrying the gateway's reason", async () => {
    const before = { certs: await count('certificates'), requests: await count('citrix_certsrv_requests') };
    const { pem } = request('py-denied');
    // The library's own tests expect these words from ADCS.
    await assert.rejects(python.get_cert(pem, 'NotATemplate'), (e: Error) => {
      assert.ok(e instanceof RequestDeniedException, String(e));
      assert.match(
        e.message,
        /^Denied by Policy Module 0x80094800, The request was for a certificate template that is not supported by the Active Directory Certificate Services policy: NotATemplate \(mapped: XenMobileUser\)$/,
      );
      return true;
    });
    await assert.rejects(
      python.get_cert('NotACsr', 'XenMobileUser'),
      (e: Error) => e instanceof RequestDeniedException && /^Error Parsing Request: /.test(e.message),
    );

    for (const id of [-1, 999_999, 'abc']) {
      await assert.rejects(python.get_existing_cert(id), (e: Error) => {
        assert.ok(e instanceof CouldNotRetrieveCertificateException, `ReqID=${id}: ${String(e)}`);
        assert.equal(e.message, `Requested entry not found: request ID '${id}' is unknown to this CA`);
        return true;
      });
    }
    // Another connector's request is unknown here.
    await python.get_cert(request('py-elsewhere').pem, 'XenMobileUser');
    const id = await lastRequestId();
    await assert.rejects(pythonAs(basic(), 'xm2').get_existing_cert(id), CouldNotRetrieveCertificateException);
    assert.deepEqual(
      { certs: await count('certificates'), requests: await count('citrix_certsrv_requests') },
      { certs: before.certs + 1, requests: before.requests + 1 },
      'only the one request that was not denied was issued',
    );
  });

  test('Go adcs client (jimmypw/adcs): the request number scraped from the issued page fetches the certificate; the CA certificate comes as PEM', async () => {
    const go = new GoAdcs(site, USER, PKI_PASSWORD);
    const r = request('go-adcs');
    const res = await go.submitNewRequest(r.pem, 'XenMobileUser');
    assert.equal(res.status, 'SUCCESS');
    assert.equal(res.requestid, await lastRequestId(), 'the request id, not -1');
    assertIssuedFor(res.certificatedata!, r.spki, 'go-adcs');
    assert.deepEqual(new X509Certificate(await go.getCACertificate()).raw, caDer);

    // A denial is not taken for an issued or pending request, and no certificate comes back.
    const before = await count('certificates');
    await assert.rejects(go.submitNewRequest(request('go-denied').pem, 'WebServer'), GoPanic);
    assert.equal(await count('certificates'), before);
  });

  test('Go ADCS issuer (nokia/adcs-issuer): Ready with a PEM certificate (its ENC=b64 read as Enc), the CA certificate and chain by their exact types, denials and unknown ids by their disposition', async () => {
    const issuer = new GoAdcsIssuer(site, USER, PKI_PASSWORD);
    const r = request('go-issuer');
    const res = await issuer.requestCertificate(r.pem, 'XenMobileUser');
    assert.equal(res.status, 'Ready', JSON.stringify(res));
    assert.equal(res.id, String(await lastRequestId()));
    assert.match(res.text, /^-----BEGIN CERTIFICATE-----\r\n/);
    assertIssuedFor(res.text, r.spki, 'go-issuer');

    assert.deepEqual(new X509Certificate(await issuer.getCaCertificate()).raw, caDer);
    assert.match(await issuer.getCaCertificateChain(), /^-----BEGIN PKCS7-----\r\n/);

    const denied = await issuer.requestCertificate(request('go-issuer-denied').pem, 'WebServer');
    assert.equal(denied.status, 'Unknown');
    assert.match(denied.error!, /^Denied by Policy Module 0x80094800, The request was for a certificate template that is not supported/);

    const unknown = await issuer.getExistingCertificate('424242');
    assert.deepEqual(unknown, {
      status: 'Error',
      text: "Requested entry not found: request ID '424242' is unknown to this CA The request does not exist. 0x80094002 (-2146877438 CERTSRV_E_NO_REQUEST)",
      id: '424242',
    });
  });
});
