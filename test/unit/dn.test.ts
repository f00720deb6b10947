/**
 * Distinguished names as structure: RFC 4514 strings parsed and printed,
 * DER Names read, and the allowlist comparison of the two. DER comes from
 * OpenSSL's encoder, not ours.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { inboundSchema } from '../../src/connectors/settings.js';
import { sameName } from '../../src/http/auth/dn.js';
import { certificateNames, readName } from '../../src/pki/dn-der.js';
import { formatDn, parseDn, type Dn } from '../../src/pki/dn.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';

const CN = '2.5.4.3';
const O = '2.5.4.10';
const OU = '2.5.4.11';

/** The subject OpenSSL encodes for `-subj` (OpenSSL's slash form) in a self-signed certificate. */
function opensslSubject(subj: string, mask = 'utf8only'): { subject: Dn; der: Buffer } {
  const dir = tempDir();
  writeFileSync(join(dir, 'req.cnf'), `[req]\ndistinguished_name = dn\nstring_mask = ${mask}\n[dn]\n`);
  openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    join(dir, 'req.cnf'),
    '-utf8',
    '-subj',
    subj,
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-days',
    '1',
    '-out',
    join(dir, 'cert.pem'),
  ]);
  const der = new X509Certificate(openssl(['x509', '-in', join(dir, 'cert.pem')])).raw;
  return { subject: certificateNames(der).subject, der };
}

const texts = (dn: Dn) => dn.map((rdn) => rdn.map((v) => `${v.type}=${v.text ?? `#${v.der!.toString('hex')}`}`));

describe('RFC 4514 strings', () => {
  test('RDNs come out in encoded order: the string writes the last first', () => {
    assert.deepEqual(texts(parseDn('CN=credgate-admin, O=credgate dev')), [[`${O}=credgate dev`], [`${CN}=credgate-admin`]]);
  });

  test('escaped specials, hex-escaped UTF-8 and spaces', () => {
    assert.deepEqual(texts(parseDn('CN=Smith\\, Jane')), [[`${CN}=Smith, Jane`]]);
    assert.deepEqual(texts(parseDn('CN=a\\+b\\;c\\<d\\>e\\"f\\\\g\\=h\\#i')), [[`${CN}=a+b;c<d>e"f\\g=h#i`]]);
    assert.deepEqual(texts(parseDn('CN=caf\\C3\\A9\\2c x')), [[`${CN}=café, x`]]);
    assert.deepEqual(texts(parseDn('CN=\\ padded\\ ,O=\\#1')), [[`${O}=#1`], [`${CN}= padded `]]);
    assert.deepEqual(texts(parseDn(' cn = a ,  o = b c  ')), [[`${O}=b c`], [`${CN}=a`]], 'spaces around separators are not part of values');
    assert.deepEqual(texts(parseDn('CN=')), [[`${CN}=`]]);
  });

  test('multi-valued RDNs, short names in any case, dotted OIDs, #hex values', () => {
    assert.deepEqual(texts(parseDn('cn=a+OU=b,O=c')), [[`${O}=c`], [`${CN}=a`, `${OU}=b`]]);
    assert.deepEqual(texts(parseDn('2.5.4.3=x,1.3.6.1.4.1.99999.1=#0403010203')), [['1.3.6.1.4.1.99999.1=#0403010203'], [`${CN}=x`]]);
    assert.deepEqual(texts(parseDn('emailAddress=a@b.c+E=d@e.f')), [[`1.2.840.113549.1.9.1=a@b.c`, `1.2.840.113549.1.9.1=d@e.f`]]);
  });

  test('what is not a name is refused, saying what and where', () => {
    const refused: [string, RegExp][] = [
      ['', /empty/],
      ['/O=b/CN=a', /not in the slash form/],
      ['CN=a,,O=b', /expected TYPE=value at character 6/],
      ['CN=a,', /expected TYPE=value/],
      ['CN', /expected TYPE=value/],
      ['CN=a;O=b', /";" must be escaped as "\\;"/],
      ['CN=a"b"', /must be escaped/],
      ['CN=<a>', /must be escaped/],
      ['CN=a\\', /lone "\\"/],
      ['CN=\\q', /"\\q" is no escape/],
      ['CN=\\C3', /not UTF-8/],
      ['CN=a\u0000', /NUL/],
      ['FOO=a', /unknown name attribute "FOO"/],
      ['1.02.3=a', /not a dotted OID/],
      ['3.1=a', /not an OBJECT IDENTIFIER/],
      ['CN=#abc', /not whole bytes of hex/],
      ['CN=#0c05ab', /not one DER value/],
      ['CN=#zz', /escape a literal "#" as "\\#"/],
    ];
    for (const [text, problem] of refused) assert.throws(() => parseDn(text), problem, JSON.stringify(text));
  });

  test("printed in the certificate's order, escaped as RFC 4514 says, hidden characters as hex, other types as #hex", () => {
    const name: Dn = [
      [
        { type: CN, text: 'Smith, Jane' },
        { type: OU, text: 'a+b' },
      ],
      [{ type: O, text: 'credgate dev' }],
    ];
    assert.equal(formatDn(name), 'CN=Smith\\, Jane+OU=a\\+b, O=credgate dev');
    assert.equal(formatDn([[{ type: CN, text: ' #lead"<>;\\ trail ' }]]), 'CN=\\ #lead\\"\\<\\>\\;\\\\ trail\\ ');
    assert.equal(formatDn([[{ type: CN, text: '#x' }]]), 'CN=\\#x');
    assert.equal(formatDn([[{ type: CN, text: 'a\nb\u202Ec\u0000' }]]), 'CN=a\\0Ab\\E2\\80\\AEc\\00');
    assert.equal(
      formatDn([[{ type: '1.2.3.4', der: Buffer.from('020101', 'hex') }], [{ type: '1.2.840.113549.1.9.1', text: 'a@b.c' }]]),
      '1.2.3.4=#020101, emailAddress=a@b.c',
    );
    for (const text of ['CN=a\\,b+OU=c,O=d', 'CN=\\ x\\ ,O=\\#y', 'CN=caf\\C3\\A9', '1.2.3.4=#0403010203']) {
      const dn = parseDn(text);
      assert.ok(sameName(parseDn(formatDn(dn)), dn), `${text} printed as ${formatDn(dn)} reads back as the same name`);
    }
  });
});

describe('DER names', () => {
  test("read from OpenSSL's encoding: a comma stays inside its value, a plus makes a multi-valued RDN", () => {
    assert.deepEqual(texts(opensslSubject('/CN=credgate-admin, O=credgate dev').subject), [[`${CN}=credgate-admin, O=credgate dev`]]);
    assert.deepEqual(texts(opensslSubject('/CN=a+OU=b/O=c').subject), [[`${CN}=a`, `${OU}=b`], [`${O}=c`]]);
  });

  test('every string type decodes to its characters; each value keeps its exact DER', () => {
    const { subject } = opensslSubject('/CN=café/OU=Łukasz/O=credgate dev', 'default');
    assert.deepEqual(texts(subject), [[`${CN}=café`], [`${OU}=Łukasz`], [`${O}=credgate dev`]]);
    assert.deepEqual(
      subject.map(([v]) => v!.der![0]),
      [0x14, 0x1e, 0x13],
      'T61String, BMPString, PrintableString',
    );
  });

  test('a value that is not a string has no text, only DER', () => {
    const name = Buffer.from('300d310b300906032a030404020102', 'hex'); // 1.2.3.4 = OCTET STRING 01 02
    assert.deepEqual(readName(name), [[{ type: '1.2.3.4', der: Buffer.from('04020102', 'hex') }]]);
    assert.equal(formatDn(readName(name)), '1.2.3.4=#04020102');
  });

  test('malformed names are refused', () => {
    assert.throws(() => readName(Buffer.from('3100', 'hex')), /expected SEQUENCE/);
    assert.throws(() => readName(Buffer.from('30023000', 'hex')), /expected SET/);
    assert.throws(() => readName(Buffer.from('30023100', 'hex')), /RDN 1 is empty/);
    assert.throws(() => readName(Buffer.from('3004310230', 'hex')), /truncated/);
  });
});

describe('allowlist comparison', () => {
  const matches = (configured: string, subj: string, mask?: string) => sameName(parseDn(configured), opensslSubject(subj, mask).subject);

  test('the dev admin subject as the shipped config writes it, in either order', () => {
    assert.equal(matches('CN=credgate-admin, O=credgate dev', '/CN=credgate-admin/O=credgate dev'), true);
    assert.equal(matches('O=credgate dev,CN=credgate-admin', '/CN=credgate-admin/O=credgate dev'), true);
  });

  test('a comma inside a CN is not two RDNs', () => {
    assert.equal(matches('CN=credgate-admin, O=credgate dev', '/CN=credgate-admin, O=credgate dev'), false);
    assert.equal(matches('CN=credgate-admin\\, O=credgate dev', '/CN=credgate-admin, O=credgate dev'), true);
  });

  test('RDN boundaries and order count; order inside a multi-valued RDN does not', () => {
    assert.equal(matches('CN=a+OU=b, O=c', '/CN=a/OU=b/O=c'), false);
    assert.equal(matches('CN=a, OU=b, O=c', '/CN=a+OU=b/O=c'), false);
    assert.equal(matches('OU=b+CN=a, O=c', '/CN=a+OU=b/O=c'), true);
    assert.equal(matches('CN=a, OU=b, O=c', '/OU=b/CN=a/O=c'), false);
    assert.equal(matches('CN=a, O=c', '/CN=a/O=c/O=c'), false);
  });

  test('text matches across string types, by exact characters; #hex only its own bytes', () => {
    assert.equal(matches('CN=café, OU=Łukasz, O=credgate dev', '/CN=café/OU=Łukasz/O=credgate dev', 'default'), true);
    assert.equal(matches('CN=CAFÉ, OU=Łukasz, O=credgate dev', '/CN=café/OU=Łukasz/O=credgate dev'), false);
    assert.equal(matches('CN=x, O=#130C637265646761746520646576', '/CN=x/O=credgate dev', 'default'), true);
    assert.equal(matches('CN=x, O=#130C637265646761746520646576', '/CN=x/O=credgate dev'), false, 'a UTF8String is other bytes');
    assert.equal(matches('CN=x, O=#0C0C637265646761746520646576', '/CN=x/O=credgate dev'), true);
  });

  test('a configured text value never matches a value that is not a string', () => {
    const presented: Dn = [[{ type: '1.2.3.4', der: Buffer.from('0403616263', 'hex') }]];
    assert.equal(sameName(parseDn('1.2.3.4=abc'), presented), false);
    assert.equal(sameName(parseDn('1.2.3.4=#0403616263'), presented), true);
  });
});

describe('configuration', () => {
  test('an allowlist subject that does not parse is refused with the reason', () => {
    assert.throws(
      () => parseConfig('auth:\n  clientCertificates:\n    allow:\n      - { subject: "CN=a; O=b", principal: x }\n', 'config/credgate.yaml', {}),
      (err: Error & { problems?: string[] }) => {
        assert.match(err.problems?.join('\n') ?? '', /auth\.clientCertificates\.allow\.0\.subject: not a distinguished name \(RFC 4514\): ";" must be escaped/);
        return true;
      },
    );
  });

  test('so is a connector console subject', () => {
    const r = inboundSchema.safeParse({ clientCertificates: { allow: [{ subject: '/CN=console/O=corp' }] } });
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0]!.message, /not a distinguished name \(RFC 4514\): write the name as RFC 4514/);
    assert.equal(inboundSchema.safeParse({ clientCertificates: { allow: [{ subject: 'CN=console, O=corp' }] } }).success, true);
  });
});
