/**
 * Names come from policy, never from the request unless the policy says so:
 * SCEP profiles as shipped (one-time and static challenges), a profile that
 * takes DNS names under a pattern, one that builds names from its template
 * and a challenge's binding, and the admin API's issuance from a caller's
 * CSR. Requests are made by `openssl req`; what was issued is read back
 * with `openssl x509`.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TEMPLATES } from '../../src/config/schema.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { opensslCsr, type OpensslCsrOptions } from '../helpers/openssl-csr.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { newDevice, pkiMessage, readCertRep, type CertRep } from '../helpers/scep-client.js';

const STATIC = 'static-challenge-for-names';

/** Requests that ask for names the shipped policy does not take from requests, and why each is refused. */
const REFUSED: [string, Omit<OpensslCsrOptions, 'challenge'>, RegExp][] = [
  ['a second CN', { subject: '/CN=device-1/CN=domain.admin' }, /2 CN attributes/],
  ['a second O', { subject: '/CN=device-1/O=Example Bank/O=Other Bank' }, /2 O attributes/],
  ['a second OU', { subject: '/CN=device-1/OU=Devices/OU=Domain Admins' }, /2 OU attributes/],
  ['a multi-valued RDN with two CNs', { subject: '/CN=device-1+CN=admin' }, /2 CN attributes/],
  ['an emailAddress attribute', { subject: '/CN=device-1/emailAddress=ceo@example.com' }, /carries E/],
  ['a UPN', { subject: '/CN=device-1', addext: ['subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:domain.admin@example.com'] }, /upn subjectAltName/],
  ['an rfc822Name', { subject: '/CN=device-1', addext: ['subjectAltName=email:ceo@example.com'] }, /email subjectAltName/],
  ['a DNS name', { subject: '/CN=device-1', addext: ['subjectAltName=DNS:login.example.com'] }, /dns subjectAltName/],
  ['a URI', { subject: '/CN=device-1', addext: ['subjectAltName=URI:https://login.example.com/'] }, /uri subjectAltName/],
  ['an IP address', { subject: '/CN=device-1', addext: ['subjectAltName=IP:10.0.0.1'] }, /ip subjectAltName/],
  [
    'a directoryName',
    { subject: '/CN=device-1', addext: ['subjectAltName=dirName:dir_sect'], sections: { dir_sect: ['CN = Domain Admins'] } },
    /never certified: directoryName/,
  ],
  [
    'an otherName of another kind',
    { subject: '/CN=device-1', addext: ['subjectAltName=otherName:1.3.6.1.5.5.7.8.9;UTF8:admin@example.com'] },
    /never certified: otherName 1\.3\.6\.1\.5\.5\.7\.8\.9/,
  ],
  ['a right-to-left override in the CN', { subject: '/CN=device-\u202Egpj.exe' }, /U\+202E/],
  ['DN specials in the CN', { subject: '/CN=credgate-admin, O=credgate dev' }, /does not match the policy's pattern/],
];

describe('names from policy', () => {
  let gw: TestGateway;
  let base: string;
  let certs: string;
  let ra: X509Certificate;

  const admin = (path: string, method = 'GET', body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(certs),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const challenge = async (profile: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const r = await admin('/scep/challenges', 'POST', { profile, ...extra });
    assert.equal(r.status, 201, r.body);
    return r.json().challenge as string;
  };
  const enroll = async (profile: string, csr: Omit<OpensslCsrOptions, 'challenge'>, secret: string): Promise<CertRep> => {
    const device = await newDevice('requester');
    const inner = opensslCsr(device.key, { ...csr, challenge: secret });
    const msg = await pkiMessage({ type: 'PKCSReq', inner, signer: device, recipients: [ra] });
    const r = await curl(`${base}/scep/${profile}?operation=PKIOperation`, [
      '--cacert',
      join(certs, 'root-ca.pem'),
      '-H',
      'Content-Type: application/x-pki-message',
      '--data-binary',
      `@${file(msg.der)}`,
      '-o',
      join(gw.dir, 'rep.der'),
    ]);
    assert.equal(r.status, 200);
    return readCertRep(readFileSync(join(gw.dir, 'rep.der')), ra, device);
  };
  let n = 0;
  const file = (der: Buffer): string => {
    const path = join(gw.dir, `msg-${n++}.der`);
    writeFileSync(path, der);
    return path;
  };
  const text = (cert: X509Certificate): string => openssl(['x509', '-noout', '-text'], cert.toString());
  const certificateCount = async () => Number((await gw.db('certificates').count({ n: '*' }).first())?.n);

  before(async () => {
    gw = await startTestGateway({
      overrides: {
        templates: {
          ...DEFAULT_TEMPLATES,
          'challenge-named': { preset: 'device-identity', subject: 'CN={{challenge.serialNumber}}, O=Example Bank' },
        },
        scep: {
          profiles: {
            default: {},
            mdm: { challenge: { static: STATIC } },
            dns: {
              challenge: { static: STATIC },
              names: { subject: { CN: '[a-z0-9-]{1,32}' }, subjectAltNames: { dns: { pattern: '[a-z0-9-]+\\.devices\\.example\\.com', max: 2 } } },
            },
            fixed: { template: 'challenge-named', names: 'template' },
          },
        },
      },
    });
    base = `https://localhost:${gw.port}`;
    certs = join(gw.dir, 'certs');
    ra = new X509Certificate(readFileSync(join(certs, 'scep-ra.pem')));
  });
  after(async () => {
    await gw.stop();
  });

  test('the shipped profiles take a plain subject as scepclient and iOS send it, and nothing more', async () => {
    for (const profile of ['default', 'mdm']) {
      const secret = profile === 'default' ? await challenge('default') : STATIC;
      const ok = await enroll(profile, { subject: '/C=US/O=Example Bank/OU=MDM/CN=device-1/serialNumber=C02X1234' }, secret);
      assert.equal(ok.status, 'SUCCESS', `${profile}: ${ok.failInfo}`);
      assert.equal(ok.certificates[0]!.subject, 'C=US\nO=Example Bank\nOU=MDM\nCN=device-1\nserialNumber=C02X1234');
      assert.equal(ok.certificates[0]!.subjectAltName, undefined);
    }
  });

  for (const [what, csr, reason] of REFUSED) {
    test(`a request carrying ${what} is refused and audited with the reason, on one-time and static profiles`, async () => {
      const before = await certificateCount();
      for (const profile of ['default', 'mdm']) {
        const secret = profile === 'default' ? await challenge('default') : STATIC;
        const rep = await enroll(profile, csr, secret);
        assert.equal(rep.status, 'FAILURE', `${profile}: ${what} was issued`);
        assert.equal(rep.failInfo, 'badRequest');
      }
      assert.equal(await certificateCount(), before, 'nothing was issued');
      const audit = (await admin('/audit?action=scep.refuse')).json().entries as { reason: string }[];
      assert.ok(
        audit.some((e) => reason.test(e.reason)),
        `an audit entry says why: ${JSON.stringify(audit.map((e) => e.reason))}`,
      );
    });
  }

  test('key usage, extended key usage and basicConstraints come from the template, never from the request', async () => {
    const rep = await enroll(
      'mdm',
      {
        subject: '/CN=wants-to-be-a-ca',
        addext: [
          'basicConstraints=critical,CA:TRUE',
          'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
          'extendedKeyUsage=serverAuth,codeSigning,OCSPSigning',
          'nameConstraints=permitted;DNS:example.com',
        ],
      },
      STATIC,
    );
    assert.equal(rep.status, 'SUCCESS', rep.failInfo);
    const cert = rep.certificates[0]!;
    assert.equal(cert.ca, false);
    const t = text(cert);
    assert.doesNotMatch(t, /CA:TRUE|Certificate Sign|CRL Sign|Code Signing|Server Authentication|OCSP Signing|Name Constraints/);
    assert.match(t, /X509v3 Extended Key Usage: *\n *TLS Web Client Authentication\n/);
  });

  test('a bound challenge binds exactly: the bound value, once, and no other value of its type', async () => {
    const bound = () => challenge('default', { binding: { CN: 'pinned-device' } });
    for (const subject of ['/CN=pinned-device/CN=domain.admin', '/CN=domain.admin/CN=pinned-device', '/CN=other-device', '/O=Example Bank']) {
      const rep = await enroll('default', { subject }, await bound());
      assert.equal(rep.status, 'FAILURE', `${subject} was issued`);
    }
    const ok = await enroll('default', { subject: '/O=Example Bank/CN=pinned-device' }, await bound());
    assert.equal(ok.status, 'SUCCESS', ok.failInfo);
    // An exact binding is the whole subject, as iOS OTA gives its devices: nothing else, no subjectAltName.
    const exact = () => challenge('default', { binding: { O: 'Example Bank', CN: 'phone-1' }, exact: true });
    for (const csr of [
      { subject: '/O=Example Bank/CN=phone-1/OU=Admins' },
      { subject: '/O=Example Bank/CN=phone-1', addext: ['subjectAltName=DNS:phone-1.example.com'] },
      { subject: '/CN=phone-1' },
    ]) {
      assert.equal((await enroll('default', csr, await exact())).status, 'FAILURE', JSON.stringify(csr));
    }
    assert.equal((await enroll('default', { subject: '/O=Example Bank/CN=phone-1' }, await exact())).status, 'SUCCESS');
  });

  test('a profile may take subjectAltNames of one type under a pattern, and only those', async () => {
    const ok = await enroll(
      'dns',
      { subject: '/CN=kiosk-7', addext: ['subjectAltName=DNS:kiosk-7.devices.example.com,DNS:kiosk-7b.devices.example.com'] },
      STATIC,
    );
    assert.equal(ok.status, 'SUCCESS', ok.failInfo);
    assert.equal(ok.certificates[0]!.subjectAltName, 'DNS:kiosk-7.devices.example.com, DNS:kiosk-7b.devices.example.com');
    for (const addext of [
      ['subjectAltName=DNS:www.example.com'],
      ['subjectAltName=DNS:kiosk-7.devices.example.com.evil.com'],
      ['subjectAltName=DNS:a.devices.example.com,DNS:b.devices.example.com,DNS:c.devices.example.com'],
      ['subjectAltName=DNS:kiosk-7.devices.example.com,IP:10.0.0.7'],
    ]) {
      assert.equal((await enroll('dns', { subject: '/CN=kiosk-7', addext }, STATIC)).status, 'FAILURE', addext.join());
    }
    assert.equal((await enroll('dns', { subject: '/CN=kiosk-7/O=Example Bank' }, STATIC)).status, 'FAILURE', "O is not in this profile's subject rules");
  });

  test("a profile whose names come from its template ignores the request's and fills in the challenge's binding", async () => {
    const secret = await challenge('fixed', { binding: { serialNumber: 'F2LX1234ABCD' } });
    const rep = await enroll(
      'fixed',
      {
        subject: '/serialNumber=F2LX1234ABCD/CN=domain.admin/OU=Admins',
        addext: ['subjectAltName=DNS:login.example.com,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:domain.admin@example.com'],
      },
      secret,
    );
    assert.equal(rep.status, 'SUCCESS', rep.failInfo);
    assert.equal(rep.certificates[0]!.subject, 'CN=F2LX1234ABCD\nO=Example Bank');
    assert.equal(rep.certificates[0]!.subjectAltName, undefined);
  });

  test("the admin API's issuance from a caller's CSR takes the template's names and usages, not the request's", async () => {
    const device = await newDevice('api');
    const csr = opensslCsr(device.key, {
      subject: '/CN=domain.admin/O=Evil',
      addext: ['subjectAltName=DNS:login.example.com,email:ceo@example.com', 'basicConstraints=critical,CA:TRUE', 'extendedKeyUsage=serverAuth'],
    });
    const r = await admin('/certificates', 'POST', {
      template: 'tls-client',
      user: { userName: 'jane', upn: 'jane@example.com' },
      csr: csr.toString('base64'),
    });
    assert.equal(r.status, 201, r.body);
    const cert = new X509Certificate((r.json().certificate as { pem: string }).pem);
    assert.equal(cert.subject, 'CN=jane');
    assert.equal(cert.subjectAltName, 'othername:UPN:jane@example.com');
    assert.equal(cert.ca, false);
    assert.doesNotMatch(text(cert), /Server Authentication|CA:TRUE/);
  });
});
