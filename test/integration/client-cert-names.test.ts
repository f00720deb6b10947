/**
 * Client certificates matched by subject, through a started gateway. The
 * certificates come from OpenSSL (an encoder independent of ours), issued by
 * the admin allowlist's own trusted CA, as a CA would issue them that lets
 * its users choose their subject: commas and plus signs inside values,
 * multi-valued RDNs, the RDNs in another order, other string types.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devPkiFiles } from '../../src/pki/dev-pki.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openssl } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

/** OpenSSL's string_mask: utf8only writes UTF8String; default picks PrintableString, T61String or BMPString as the characters allow. */
type StringMask = 'utf8only' | 'default';

describe('client certificates matched by subject structure', () => {
  let gw: TestGateway;
  let base: string;
  let pkiDir: string;
  let serial = 1;

  /** A clientAuth certificate for `subject` (OpenSSL's -subj form) from the dev issuing CA, which the admin allowlist trusts. */
  function issue(subject: string, opts: { mask?: StringMask } = {}): string[] {
    const f = devPkiFiles(pkiDir);
    const name = `c${serial++}`;
    const file = (ext: string) => join(pkiDir, `${name}${ext}`);
    writeFileSync(
      file('.cnf'),
      `[req]\ndistinguished_name = dn\nstring_mask = ${opts.mask ?? 'utf8only'}\n[dn]\n[ext]\nkeyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n`,
    );
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('-key.pem')]);
    openssl(['req', '-new', '-config', file('.cnf'), '-utf8', '-subj', subject, '-key', file('-key.pem'), '-out', file('.csr')]);
    openssl([
      'x509',
      '-req',
      '-in',
      file('.csr'),
      '-CA',
      f.issuingCert,
      '-CAkey',
      f.issuingKey,
      '-passin',
      `file:${join(pkiDir, 'master.key')}`,
      '-set_serial',
      String(1000 + serial),
      '-days',
      '2',
      '-extfile',
      file('.cnf'),
      '-extensions',
      'ext',
      '-out',
      file('.pem'),
    ]);
    writeFileSync(file('-chain.pem'), readFileSync(file('.pem'), 'utf8') + readFileSync(f.issuingCert, 'utf8'));
    return ['--cacert', f.rootCert, '--cert', file('-chain.pem'), '--key', file('-key.pem')];
  }

  /** The principal a certificate authenticates as, or the HTTP status when it does not. */
  async function whoami(args: string[]): Promise<string | number> {
    const r = await curl(`${base}/api/v1/whoami`, args);
    if (r.status !== 200) return r.status;
    return (r.json().principal as { name: string }).name;
  }

  before(async () => {
    const dir = tempDir();
    pkiDir = join(dir, 'certs');
    await (await startTestGateway({ dir })).stop();
    const rule = (subject: string, principal: string) => ({ subject, principal, roles: [] });
    gw = await startTestGateway({
      dir,
      overrides: {
        auth: {
          clientCertificates: {
            allow: [
              { subject: 'CN=credgate-admin, O=credgate dev', principal: 'admin', roles: ['admin'] },
              rule('CN=Smith\\, Jane, O=credgate dev', 'jane'),
              rule('CN=plus\\+sign, O=credgate dev', 'plus'),
              rule('CN=multi+OU=ops, O=credgate dev', 'multi'),
              rule('CN=split\\+OU=ops, O=credgate dev', 'split'),
              rule('O=credgate dev,OU=ops,CN=rfc4514', 'rfc4514'),
              rule('CN=café, OU=Łukasz, O=credgate dev', 'types'),
              rule('CN=caf\\C3\\A9 \\\\\\"\\2B hex, O=credgate dev', 'escapes'),
              rule('CN=printable-only, O=#130C637265646761746520646576', 'printable-only'),
              rule('2.5.4.3=by-oid, o=credgate dev', 'by-oid'),
            ],
          },
        },
      },
    });
    base = `https://localhost:${gw.port}`;
  });

  after(() => gw.stop());

  test('a single CN "credgate-admin, O=credgate dev" from a trusted CA is not the admin; the dev admin still is', async () => {
    const forged = issue('/CN=credgate-admin, O=credgate dev');
    const r = await curl(`${base}/api/v1/whoami`, forged);
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.json().message), /not on the allowlist/);
    assert.equal((await curl(`${base}/api/v1/jobs`, forged)).status, 401);
    assert.equal(await whoami(adminCurlArgs(pkiDir)), 'admin');
  });

  test('a comma inside a value matches only its escaped form, and shows escaped', async () => {
    const jane = issue('/CN=Smith, Jane/O=credgate dev');
    const r = await curl(`${base}/api/v1/whoami`, jane);
    assert.equal(r.status, 200, r.body);
    const cert = (r.json().principal as { certificate: { subject: string; issuer: string } }).certificate;
    assert.equal(cert.subject, 'CN=Smith\\, Jane, O=credgate dev');
    // OpenSSL's own print of the same certificate: RFC 2253 escapes, RDNs in the certificate's order.
    const pem = join(pkiDir, `c${serial - 1}.pem`);
    const nameopt = 'esc_2253,esc_ctrl,esc_msb,utf8,dump_nostr,dump_unknown,dump_der,sep_comma_plus_space,sname';
    assert.equal(`subject=${cert.subject}\n`, openssl(['x509', '-in', pem, '-noout', '-subject', '-nameopt', nameopt]));
    assert.equal(`issuer=${cert.issuer}\n`, openssl(['x509', '-in', pem, '-noout', '-issuer', '-nameopt', nameopt]));
    // The same characters as two RDNs are someone else.
    assert.equal(await whoami(issue('/CN=Smith/CN=Jane/O=credgate dev')), 401);
  });

  test('a plus sign inside a value is not a multi-valued RDN, and the reverse', async () => {
    // OpenSSL's -subj: "\\+" is a plus sign in the value, "+" starts the next value of the RDN.
    assert.equal(await whoami(issue('/CN=plus\\+sign/O=credgate dev')), 'plus');
    assert.equal(await whoami(issue('/CN=plus+OU=sign/O=credgate dev')), 401);
    assert.equal(await whoami(issue('/CN=split+OU=ops/O=credgate dev')), 401);
    assert.equal(await whoami(issue('/CN=split\\+OU=ops/O=credgate dev')), 'split');
  });

  test('a multi-valued RDN matches in any order within it, but not as separate RDNs', async () => {
    assert.equal(await whoami(issue('/CN=multi+OU=ops/O=credgate dev')), 'multi');
    assert.equal(await whoami(issue('/OU=ops+CN=multi/O=credgate dev')), 'multi');
    assert.equal(await whoami(issue('/CN=multi/OU=ops/O=credgate dev')), 401);
    assert.equal(await whoami(issue('/OU=ops/CN=multi/O=credgate dev')), 401);
  });

  test("RDN order: RFC 4514 (last first) or the certificate's own, never shuffled", async () => {
    assert.equal(await whoami(issue('/CN=rfc4514/OU=ops/O=credgate dev')), 'rfc4514');
    assert.equal(await whoami(issue('/O=credgate dev/OU=ops/CN=rfc4514')), 'rfc4514');
    assert.equal(await whoami(issue('/OU=ops/CN=rfc4514/O=credgate dev')), 401);
    assert.equal(await whoami(issue('/CN=rfc4514/O=credgate dev')), 401, 'an RDN missing');
    assert.equal(await whoami(issue('/CN=rfc4514/OU=ops/OU=extra/O=credgate dev')), 401, 'an RDN more');
  });

  test('values compare by characters across UTF8String, T61String (Latin-1), BMPString and PrintableString', async () => {
    const utf8 = issue('/CN=café/OU=Łukasz/O=credgate dev', { mask: 'utf8only' });
    const legacy = issue('/CN=café/OU=Łukasz/O=credgate dev', { mask: 'default' });
    const asn1 = openssl(['asn1parse', '-in', join(pkiDir, `c${serial - 1}.pem`)]);
    assert.match(asn1, /T61STRING/);
    assert.match(asn1, /BMPSTRING/);
    assert.match(asn1, /PRINTABLESTRING\s+:credgate dev/);
    assert.equal(await whoami(utf8), 'types');
    assert.equal(await whoami(legacy), 'types');
    assert.equal(await whoami(issue('/CN=Café/OU=Łukasz/O=credgate dev')), 401, 'no case folding');
    assert.equal(await whoami(issue('/CN=cafe/OU=Łukasz/O=credgate dev')), 401);
  });

  test('hex escapes are UTF-8 bytes; an escaped backslash or quote is itself', async () => {
    assert.equal(await whoami(issue('/CN=café \\\\"\\+ hex/O=credgate dev')), 'escapes');
    assert.equal(await whoami(issue('/CN=café \\\\"\\+ hex /O=credgate dev')), 401, 'a trailing space is a character');
  });

  test('a #hex value matches exactly that DER and no other encoding of the same text', async () => {
    assert.equal(await whoami(issue('/CN=printable-only/O=credgate dev', { mask: 'default' })), 'printable-only');
    assert.equal(await whoami(issue('/CN=printable-only/O=credgate dev', { mask: 'utf8only' })), 401);
  });

  test('types by dotted OID or short name in any case', async () => {
    assert.equal(await whoami(issue('/CN=by-oid/O=credgate dev')), 'by-oid');
  });
});
