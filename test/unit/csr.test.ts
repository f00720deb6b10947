/**
 * PKCS#10 parsing and native proof-of-possession checks, against requests made
 * by the real `openssl req`, plus malformed input (truncations, random
 * mutations) that must only ever produce CsrError.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import forge from 'node-forge';
import { nul, oid, parseDer, seq, toDer } from '../../src/pki/asn1.js';
import { checkKeyPolicy, CsrError, parseCsr, verifyCsrSignature, type ParsedCsr } from '../../src/pki/csr.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('credgate-csr-');

function openssl(args: string[]): Buffer {
  const r = spawnSync('openssl', args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

const SAN = 'subjectAltName=email:a@example.com,DNS:host.example.com,IP:10.1.2.3,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example';
const CHALLENGE = 's3cret-Chall3nge';
const POLICY = { rsaMinBits: 2048, allowEc: true };

interface CsrOptions {
  /** Distinguished-name lines for the config's [dn] section. */
  dn?: string[];
  challenge?: string;
  san?: string;
  digest?: string;
  sigopt?: string[];
  /** OpenSSL string_mask: "default" picks PrintableString/T61String/BMPString where they fit. */
  stringMask?: string;
}

let csrCount = 0;
/**
 * A PEM request from `openssl req`. OpenSSL 3.0 ignores [req_attributes] when
 * -subj is given, so the subject goes in the config too (prompt = no).
 */
function makeCsr(keyFile: string, o: CsrOptions = {}): Buffer {
  const n = ++csrCount;
  const config = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    'utf8 = yes',
    ...(o.stringMask ? [`string_mask = ${o.stringMask}`] : []),
    ...(o.challenge ? ['attributes = req_attributes'] : []),
    '[dn]',
    ...(o.dn ?? ['CN = alice', 'O = Example']),
    ...(o.challenge ? ['[req_attributes]', `challengePassword = ${o.challenge}`] : []),
  ];
  const cnf = join(dir, `req-${n}.cnf`);
  writeFileSync(cnf, `${config.join('\n')}\n`);
  return openssl([
    'req',
    '-new',
    '-key',
    keyFile,
    '-config',
    cnf,
    ...(o.san ? ['-addext', o.san] : []),
    ...(o.digest ? [`-${o.digest}`] : []),
    ...(o.sigopt ?? []).flatMap((s) => ['-sigopt', s]),
  ]);
}

const pemToDer = (pem: Buffer | string): Buffer => openssl(['req', '-in', writeTemp(pem), '-outform', 'DER']);
function writeTemp(data: Buffer | string): string {
  const path = join(dir, `in-${++csrCount}`);
  writeFileSync(path, data);
  return path;
}

/** deepEqual-able: KeyObjects become their SPKI DER. */
const comparable = (csr: ParsedCsr) => ({ ...csr, publicKey: csr.publicKey.export({ type: 'spki', format: 'der' }) });

function csrError(fn: () => unknown, message?: RegExp): CsrError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CsrError, `expected CsrError, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail('expected CsrError');
}

/** Deterministic PRNG (mulberry32) so a failing mutation reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** DER TLV with a minimal length. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const keys = { rsa: '', rsa1024: '', ec: '', ed25519: '' };
const csrs: { rsa: Buffer; ec: Buffer } = { rsa: Buffer.alloc(0), ec: Buffer.alloc(0) };

before(() => {
  keys.rsa = join(dir, 'rsa2048.key');
  keys.rsa1024 = join(dir, 'rsa1024.key');
  keys.ec = join(dir, 'p256.key');
  keys.ed25519 = join(dir, 'ed25519.key');
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keys.rsa]);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', keys.rsa1024]);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keys.ec]);
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', keys.ed25519]);
  csrs.rsa = makeCsr(keys.rsa, { san: SAN, challenge: CHALLENGE });
  csrs.ec = makeCsr(keys.ec, { san: SAN, challenge: CHALLENGE });
});

describe('parseCsr on openssl requests', () => {
  test('PEM (both labels, Buffer or string), DER and bare base64 parse to the same request', () => {
    const pem = csrs.rsa.toString();
    const der = pemToDer(pem);
    const expected = comparable(parseCsr(der));
    const b64 = der.toString('base64');
    const certsrvStyle = b64.replace(/.{1,64}/g, '$&\r\n'); // certsrv/MDM bodies: base64 in CRLF-broken lines
    const inputs: Array<[string, Buffer | string]> = [
      ['PEM string', pem],
      ['PEM Buffer', Buffer.from(pem)],
      ['PEM with CRLF and surrounding blank lines', `\r\n${pem.replace(/\n/g, '\r\n')}\r\n\r\n`],
      ['PEM Buffer after a UTF-8 byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pem)])],
      ['NEW CERTIFICATE REQUEST', pem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST')],
      ['bare base64 string', b64],
      ['bare base64, certsrv line breaks', certsrvStyle],
      ['bare base64 Buffer', Buffer.from(b64)],
    ];
    for (const [name, input] of inputs) assert.deepEqual(comparable(parseCsr(input)), expected, name);
    assert.deepEqual(parseCsr(pem).der, der);
  });

  test('RSA 2048: subject, SANs with UPN, challengePassword, key size, signature', () => {
    const csr = parseCsr(csrs.rsa);
    assert.deepEqual(csr.subject, [
      { type: 'CN', value: 'alice' },
      { type: 'O', value: 'Example' },
    ]);
    assert.equal(csr.subjectDn, 'CN=alice, O=Example');
    assert.deepEqual(csr.subjectAltNames, [
      { type: 'email', value: 'a@example.com' },
      { type: 'dns', value: 'host.example.com' },
      { type: 'ip', value: '10.1.2.3' },
      { type: 'upn', value: 'alice@corp.example' },
    ]);
    assert.equal(csr.challengePassword, CHALLENGE);
    assert.equal(csr.keyAlgorithm, 'rsa');
    assert.equal(csr.keySize, 2048);
    assert.equal(csr.curve, undefined);
    assert.equal(csr.signatureAlgorithm, 'sha256WithRSAEncryption');
    assert.equal(csr.requestedExtensions.length, 1);
    assert.deepEqual({ ...csr.requestedExtensions[0], value: undefined }, { oid: '2.5.29.17', critical: false, value: undefined });
    assert.ok(csr.publicKey.equals(createPublicKey(createPrivateKey(readFileSync(keys.rsa)))));
    assert.equal(verifyCsrSignature(csr), true);
    assert.equal(checkKeyPolicy(csr, POLICY), undefined);
  });

  test('EC P-256: the same fields, curve and size from the key', () => {
    const csr = parseCsr(csrs.ec);
    assert.equal(csr.subjectDn, 'CN=alice, O=Example');
    assert.equal(csr.subjectAltNames.length, 4);
    assert.deepEqual(csr.subjectAltNames[3], { type: 'upn', value: 'alice@corp.example' });
    assert.equal(csr.challengePassword, CHALLENGE);
    assert.equal(csr.keyAlgorithm, 'ec');
    assert.equal(csr.keySize, 256);
    assert.equal(csr.curve, 'prime256v1');
    assert.equal(csr.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(verifyCsrSignature(csr), true);
  });

  test('name types, string types and DN escaping', () => {
    const pem = makeCsr(keys.ec, {
      dn: [
        '0.DC = com',
        '1.DC = example',
        'C = DE',
        'ST = Bayern',
        'L = München',
        'O = Example, Inc.',
        'OU = Devices',
        'CN = bob+admin',
        'emailAddress = bob@example.com',
        'serialNumber = 42',
        'UID = bob',
        '0.1.2.3.4 = custom', // openssl drops the "N." prefix that allows repeats
      ],
      challenge: 'abc',
    });
    const csr = parseCsr(pem);
    assert.deepEqual(
      csr.subject.map((a) => a.type),
      ['DC', 'DC', 'C', 'ST', 'L', 'O', 'OU', 'CN', 'E', 'serialNumber', 'UID', '1.2.3.4'],
    );
    assert.equal(csr.subject.find((a) => a.type === 'L')?.value, 'München');
    assert.equal(
      csr.subjectDn,
      'DC=com, DC=example, C=DE, ST=Bayern, L=München, O=Example\\, Inc., OU=Devices, CN=bob\\+admin, E=bob@example.com, serialNumber=42, UID=bob, 1.2.3.4=custom',
    );
    assert.equal(csr.challengePassword, 'abc');
    assert.deepEqual(csr.subjectAltNames, []);
    assert.deepEqual(csr.requestedExtensions, []);
  });

  test('PrintableString, T61String and BMPString values decode like UTF8String ones', () => {
    const csr = parseCsr(makeCsr(keys.ec, { dn: ['CN = abc', 'L = München', 'O = Straße €'], challenge: 'pw', stringMask: 'default' }));
    const tags = [...csr.certificationRequestInfo].join(',');
    assert.ok(tags.includes([0x13, 3, 0x61, 0x62, 0x63].join(',')), 'CN is a PrintableString');
    assert.ok(tags.includes([0x14, 7, 0x4d, 0xfc].join(',')), 'L is a T61String (Latin-1 bytes)');
    assert.ok(tags.includes([0x1e, 16].join(',')), 'O is a BMPString');
    assert.deepEqual(csr.subject, [
      { type: 'CN', value: 'abc' },
      { type: 'L', value: 'München' },
      { type: 'O', value: 'Straße €' },
    ]);
    assert.equal(csr.challengePassword, 'pw');
  });

  test('IPv6 SANs, URIs and extra requested extensions with their critical flags', () => {
    const csr = parseCsr(makeCsr(keys.ec, { san: 'subjectAltName=IP:2001:db8:0:0:0:0:0:1,URI:https://device.example/42,DNS:a.example' }));
    assert.deepEqual(csr.subjectAltNames, [
      { type: 'ip', value: '2001:db8::1' },
      { type: 'uri', value: 'https://device.example/42' },
      { type: 'dns', value: 'a.example' },
    ]);
    const withKu = parseCsr(
      openssl(['req', '-new', '-key', keys.ec, '-subj', '/CN=ku', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=clientAuth']),
    );
    assert.deepEqual(
      withKu.requestedExtensions.map(({ oid, critical }) => ({ oid, critical })),
      [
        { oid: '2.5.29.15', critical: true },
        { oid: '2.5.29.37', critical: false },
      ],
    );
    assert.equal(withKu.challengePassword, undefined);
  });
});

describe('verifyCsrSignature', () => {
  test('RSA PKCS#1 v1.5 and ECDSA verify with SHA-1, SHA-224, SHA-256, SHA-384 and SHA-512', () => {
    for (const digest of ['sha1', 'sha224', 'sha256', 'sha384', 'sha512']) {
      const rsa = parseCsr(makeCsr(keys.rsa, { digest }));
      assert.equal(rsa.signatureAlgorithm, `${digest}WithRSAEncryption`);
      assert.equal(verifyCsrSignature(rsa), true, rsa.signatureAlgorithm);
      const ec = parseCsr(makeCsr(keys.ec, { digest }));
      assert.equal(ec.signatureAlgorithm, `ecdsa-with-${digest.toUpperCase()}`);
      assert.equal(verifyCsrSignature(ec), true, ec.signatureAlgorithm);
    }
  });

  test('RSASSA-PSS and Ed25519 requests parse, but verification refuses them with CsrError', () => {
    const pss = parseCsr(makeCsr(keys.rsa, { sigopt: ['rsa_padding_mode:pss'] }));
    assert.equal(pss.signatureAlgorithm, 'RSASSA-PSS');
    csrError(() => verifyCsrSignature(pss), /RSASSA-PSS is not supported/);

    const ed = parseCsr(makeCsr(keys.ed25519));
    assert.equal(ed.keyAlgorithm, 'ed25519');
    assert.equal(ed.signatureAlgorithm, 'Ed25519');
    csrError(() => verifyCsrSignature(ed), /Ed25519 is not supported/);
    assert.equal(checkKeyPolicy(ed, POLICY), 'ed25519 keys are not allowed; use RSA or EC');
  });

  test('one changed byte in the signed subject still parses, and fails verification', () => {
    const der = pemToDer(csrs.rsa);
    const at = der.indexOf('alice');
    const tampered = Buffer.from(der);
    tampered[at] = 'm'.charCodeAt(0); // "alice" -> "mlice"
    const csr = parseCsr(tampered);
    assert.equal(csr.subject[0]?.value, 'mlice');
    assert.equal(verifyCsrSignature(csr), false);

    const badSignature = Buffer.from(der);
    badSignature[der.length - 10]! ^= 0x01;
    assert.equal(verifyCsrSignature(parseCsr(badSignature)), false);
  });

  test('every single-bit flip anywhere in certificationRequestInfo is refused: CsrError or a failed signature', () => {
    for (const pem of [csrs.rsa, csrs.ec]) {
      const der = pemToDer(pem);
      const { certificationRequestInfo: cri } = parseCsr(der);
      const criStart = der.indexOf(cri);
      let parseErrors = 0;
      let badSignatures = 0;
      for (let i = criStart; i < criStart + cri.length; i++) {
        const flipped = Buffer.from(der);
        flipped[i]! ^= 0x01;
        let csr: ParsedCsr;
        try {
          csr = parseCsr(flipped);
        } catch (err) {
          assert.ok(err instanceof CsrError, `byte ${i}: ${String(err)}`);
          parseErrors++;
          continue;
        }
        assert.equal(verifyCsrSignature(csr), false, `byte ${i} flipped, signature still verifies`);
        badSignatures++;
      }
      assert.equal(parseErrors + badSignatures, cri.length);
      assert.ok(parseErrors > 0 && badSignatures > 0, `${parseErrors} parse errors, ${badSignatures} bad signatures`);
    }
  });

  test('the signature is checked over the bytes as received, not over a re-encoding', () => {
    // Build a request whose certificationRequestInfo is valid BER but not DER
    // (version INTEGER with a non-minimal length, 02 81 01 00) and sign exactly
    // those bytes. A verifier that re-encodes with forge would hash 02 01 00.
    const original = parseCsr(csrs.rsa).certificationRequestInfo;
    const body = original.subarray(original[1]! & 0x80 ? 2 + (original[1]! & 0x7f) : 2);
    assert.deepEqual([...body.subarray(0, 3)], [0x02, 0x01, 0x00]);
    const cri = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x81, 0x01, 0x00]), body.subarray(3)]));
    assert.notDeepEqual(toDer(parseDer(cri)), cri, 're-encoding normalises the length');

    const signature = sign('sha256', cri, createPrivateKey(readFileSync(keys.rsa)));
    const algorithm = toDer(seq([oid('1.2.840.113549.1.1.11'), nul()]));
    const der = tlv(0x30, Buffer.concat([cri, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));

    const csr = parseCsr(der);
    assert.deepEqual(csr.certificationRequestInfo, cri);
    assert.equal(csr.subjectDn, 'CN=alice, O=Example');
    assert.equal(verifyCsrSignature(csr), true);
  });

  test("verification is native: it works with forge's RSA and big-integer arithmetic disabled", () => {
    const calls: string[] = [];
    const restore: Array<() => void> = [];
    const disable = (target: object, names: string[]) => {
      const t = target as Record<string, unknown>;
      for (const name of names) {
        const original = t[name];
        assert.equal(typeof original, 'function', name);
        t[name] = () => {
          calls.push(name);
          throw new Error(`forge ${name} must not be used`);
        };
        restore.push(() => (t[name] = original));
      }
    };
    try {
      // Every forge RSA verify path ends in BigInteger.modPow; the rest are its entry points.
      disable(forge.jsbn.BigInteger.prototype, ['modPow', 'modPowInt']);
      // The trap is live: forge's own verification of this very request hits it.
      const rsa = parseCsr(csrs.rsa);
      const forgeKey = forge.pki.publicKeyFromPem(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey;
      const md = forge.md.sha256.create().update(rsa.certificationRequestInfo.toString('binary'));
      assert.throws(() => forgeKey.verify(md.digest().getBytes(), rsa.signature.toString('binary')), /modPow must not be used/);
      disable(forge.pki.rsa, ['setPublicKey', 'encrypt', 'decrypt']);
      disable(forge.pki, ['setRsaPublicKey', 'publicKeyFromAsn1', 'publicKeyFromPem', 'certificationRequestFromAsn1', 'certificationRequestFromPem']);
      calls.length = 0;
      for (const pem of [csrs.rsa, csrs.ec, makeCsr(keys.rsa, { digest: 'sha512' })]) {
        const csr = parseCsr(pem);
        assert.equal(verifyCsrSignature(csr), true, csr.signatureAlgorithm);
      }
      assert.deepEqual(calls, []);
    } finally {
      for (const undo of restore) undo();
    }
  });
});

describe('checkKeyPolicy', () => {
  test('1024-bit RSA is refused with the reason; 2048 passes; exact sizes when listed', () => {
    const small = parseCsr(makeCsr(keys.rsa1024));
    assert.equal(small.keySize, 1024);
    assert.equal(verifyCsrSignature(small), true);
    assert.equal(checkKeyPolicy(small, POLICY), 'RSA key of 1024 bits is too small; at least 2048 required');
    const rsa = parseCsr(csrs.rsa);
    assert.equal(checkKeyPolicy(rsa, POLICY), undefined);
    assert.equal(checkKeyPolicy(rsa, { ...POLICY, rsaAllowedBits: [3072, 4096] }), 'RSA key of 2048 bits is not allowed; allowed sizes: 3072, 4096');
  });

  test('EC keys: allowEc, and curves by NIST or OpenSSL name', () => {
    const ec = parseCsr(csrs.ec);
    assert.equal(checkKeyPolicy(ec, { ...POLICY, allowEc: false }), 'EC keys are not allowed; use RSA');
    assert.equal(checkKeyPolicy(ec, { ...POLICY, ecCurves: ['P-256', 'P-384'] }), undefined);
    assert.equal(checkKeyPolicy(ec, { ...POLICY, ecCurves: ['secp256r1'] }), undefined);
    assert.equal(checkKeyPolicy(ec, { ...POLICY, ecCurves: ['P-384'] }), 'EC curve prime256v1 is not allowed; allowed curves: P-384');
  });

  test('a degenerate RSA exponent is refused', () => {
    const rsa = parseCsr(csrs.rsa);
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const eOne = createPublicKey({ format: 'jwk', key: { ...jwk, e: 'AQ' } });
    assert.equal(checkKeyPolicy({ ...rsa, publicKey: eOne }, POLICY), 'RSA public exponent 1 is not allowed');
  });
});

describe('malformed input throws CsrError saying what is wrong', () => {
  test('empty, garbage, wrong PEM, trailing data', () => {
    const pem = csrs.rsa.toString();
    const der = pemToDer(pem);
    const cases: Array<[string, Buffer | string, RegExp]> = [
      ['empty string', '', /empty input/],
      ['empty Buffer', Buffer.alloc(0), /empty input/],
      ['whitespace', ' \r\n\t', /empty input/],
      ['text', 'hello, I am a CSR', /neither DER, PEM nor base64/],
      ['base64 of not-DER', Buffer.from('hello world').toString('base64'), /not a DER certificate request \(first byte 0x68/],
      ['binary junk', Buffer.from([0xde, 0xad, 0xbe, 0xef]), /neither DER, PEM nor base64/],
      ['a certificate', pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'), /expected a PEM "CERTIFICATE REQUEST", got "CERTIFICATE"/],
      ['a private key', readFileSync(keys.ec, 'utf8'), /got "PRIVATE KEY"/],
      ['mismatched END', pem.replace('END CERTIFICATE REQUEST', 'END CERTIFICATE'), /does not match END label/],
      ['PEM without END', pem.slice(0, 200), /truncated: no "-----END" line/],
      ['text after the PEM', `${pem}garbage\n`, /unexpected data after the PEM/],
      ['two PEM blocks', pem + pem, /unexpected data after the PEM/],
      ['text before the PEM', `Subject: CN=alice\n${pem}`, /unexpected text before the PEM/],
      ['PEM body with junk', pem.replace(/\n(.)/, '\n!$1'), /PEM body is not valid base64/],
      ['PEM headers', pem.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'), /PEM headers/],
      ['trailing bytes after DER', Buffer.concat([der, Buffer.from([0, 0])]), /2 bytes of trailing data/],
      ['trailing base64 after DER', Buffer.concat([der, Buffer.from([0, 0, 0])]).toString('base64'), /3 bytes of trailing data/],
      ['truncated DER', der.subarray(0, der.length - 1), /truncated/],
      ['indefinite length', Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(4), Buffer.from([0, 0])]), /indefinite-length/],
      ['a DER certificate', openssl(['req', '-x509', '-key', keys.ec, '-subj', '/CN=x', '-outform', 'DER']), /X.509 certificate, not a certificate request/],
      ['a SEQUENCE of garbage', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]), /certificationRequestInfo: expected constructed SEQUENCE, got primitive INTEGER/],
      ['not a Buffer', 42 as unknown as string, /Buffer or a string/],
    ];
    for (const [name, input, message] of cases) {
      const err = csrError(() => parseCsr(input), message);
      assert.doesNotMatch(err.message, /unexpected error/, name);
    }
  });

  test('every truncation of a valid request throws CsrError', () => {
    for (const pem of [csrs.rsa, csrs.ec]) {
      const der = pemToDer(pem);
      for (let n = 0; n < der.length; n++) csrError(() => parseCsr(der.subarray(0, n)));
      const text = pem.toString();
      for (let n = 1; n < text.length - 1; n += 7) csrError(() => parseCsr(text.slice(0, n)));
    }
  });

  test('hundreds of random mutations yield only CsrError or a parsed request', () => {
    const random = prng(0xc5e);
    const int = (n: number) => Math.floor(random() * n);
    const outcomes = { parsed: 0, csrError: 0 };
    const mutate = (src: Buffer): Buffer => {
      const b = Buffer.from(src);
      switch (int(6)) {
        case 0: // overwrite 1-4 random bytes
          for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = int(256);
          return b;
        case 1: // flip a bit in the first 40 bytes, where the outer headers and lengths live
          b[int(Math.min(40, b.length))]! ^= 1 << int(8);
          return b;
        case 2: {
          const at = int(b.length);
          return Buffer.concat([b.subarray(0, at), Buffer.from([int(256)]), b.subarray(at)]);
        }
        case 3: {
          const at = int(b.length);
          return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(8))]);
        }
        case 4: // swap in a chunk from elsewhere
          b.copy(b, int(b.length), int(b.length), int(b.length));
          return b;
        default: // a length byte set to something large
          b[int(b.length)] = 0x81 + int(4);
          return b;
      }
    };
    const try1 = (input: Buffer | string) => {
      let csr: ParsedCsr;
      try {
        csr = parseCsr(input);
      } catch (err) {
        assert.ok(err instanceof CsrError, `non-CsrError for ${Buffer.from(input).toString('hex')}: ${String(err)}`);
        assert.doesNotMatch(err.message, /unexpected error/);
        outcomes.csrError++;
        return;
      }
      outcomes.parsed++;
      try {
        verifyCsrSignature(csr);
      } catch (err) {
        assert.ok(err instanceof CsrError, String(err));
      }
      checkKeyPolicy(csr, POLICY);
    };
    for (const pem of [csrs.rsa, csrs.ec]) {
      const der = pemToDer(pem);
      for (let i = 0; i < 300; i++) try1(mutate(der));
      // through the text paths: mutate the PEM and the bare base64
      for (let i = 0; i < 50; i++) try1(mutate(pem));
      for (let i = 0; i < 50; i++) try1(mutate(Buffer.from(der.toString('base64'))).toString('latin1'));
    }
    assert.equal(outcomes.parsed + outcomes.csrError, 800);
    assert.ok(outcomes.csrError > 100 && outcomes.parsed > 10, JSON.stringify(outcomes));
  });
});
