/**
 * The DER codec against node-forge's, on what OpenSSL writes (certificate,
 * CSR, CMS SignedData and EnvelopedData, PKCS#12, keys) and on thousands of
 * mutations of it: the same trees, the same refusals, the same bytes out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import forge from 'node-forge';
import { bmp, int, oid, seq, toDer, utf8 } from '../../src/pki/asn1.js';
import { decodeDer, encodeDer, oidContent, oidFromContent, type Asn1 } from '../../src/pki/der-codec.js';
import { tempDir } from '../helpers/tmp.js';

const { asn1 } = forge;
type ForgeFromDer = (bytes: forge.util.ByteBuffer, options: object) => Asn1;
const forgeDecode = (der: Buffer): Asn1 =>
  (asn1.fromDer as unknown as ForgeFromDer)(forge.util.createBuffer(der.toString('binary')), { strict: true, parseAllBytes: true, decodeBitStrings: false });
const forgeEncode = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');

/** A tree without forge's BIT STRING bookkeeping (bitStringContents, original), for comparison. */
const plain = (n: Asn1): unknown => ({
  tagClass: n.tagClass,
  type: n.type,
  constructed: n.constructed,
  value: Array.isArray(n.value) ? n.value.map(plain) : n.value,
});

function samples(): Buffer[] {
  const dir = tempDir();
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir });
    assert.equal(r.status, 0, r.stderr.toString());
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'cert.pem',
    '-days',
    '2',
    '-subj',
    '/CN=codec test/O=Bank Ä.G./emailAddress=a@example.com',
    '-addext',
    'subjectAltName=DNS:a.example,IP:10.0.0.1,email:a@example.com',
  );
  run('x509', '-in', 'cert.pem', '-outform', 'DER', '-out', 'cert.der');
  run('req', '-new', '-key', 'key.pem', '-subj', '/CN=csr/serialNumber=1234', '-outform', 'DER', '-out', 'csr.der');
  run('pkey', '-in', 'key.pem', '-outform', 'DER', '-out', 'key.der');
  run('pkey', '-in', 'key.pem', '-pubout', '-outform', 'DER', '-out', 'spki.der');
  run('cms', '-sign', '-in', 'cert.pem', '-signer', 'cert.pem', '-inkey', 'key.pem', '-outform', 'DER', '-out', 'signed.der', '-nodetach');
  run('cms', '-encrypt', '-in', 'cert.pem', '-aes-128-cbc', '-outform', 'DER', '-out', 'enveloped.der', 'cert.pem');
  run('pkcs12', '-export', '-in', 'cert.pem', '-inkey', 'key.pem', '-passout', 'pass:secret', '-out', 'bundle.p12');
  return ['cert.der', 'csr.der', 'key.der', 'spki.der', 'signed.der', 'enveloped.der', 'bundle.p12'].map((f) => readFileSync(join(dir, f)));
}

test('reads what OpenSSL writes into the tree forge reads, and writes it back byte for byte', () => {
  for (const der of samples()) {
    const node = decodeDer(der);
    assert.deepEqual(plain(node), plain(forgeDecode(der)));
    assert.deepEqual(encodeDer(node), der);
    assert.deepEqual(encodeDer(node), forgeEncode(node));
  }
});

test('10,000 mutations: refused exactly when forge refuses, and otherwise the same tree and bytes', () => {
  const seeds = samples();
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let refused = 0;
  for (let i = 0; i < 10_000; i++) {
    const b = Buffer.from(seeds[i % seeds.length]!.subarray(0, 600 + rand(1400)));
    switch (i % 4) {
      case 0:
        b[rand(b.length)]! ^= 1 << rand(8);
        break;
      case 1:
        b[rand(Math.min(40, b.length))] = rand(256);
        break;
      case 2:
        b[1] = 0x80; // indefinite length: BER readers accept it for constructed values
        break;
    }
    const input = i % 4 === 3 ? b.subarray(0, rand(b.length)) : b;
    let theirs: Asn1 | Error;
    try {
      theirs = forgeDecode(input);
    } catch (err) {
      theirs = err as Error;
    }
    let ours: Asn1 | Error;
    try {
      ours = decodeDer(input);
    } catch (err) {
      ours = err as Error;
    }
    assert.equal(
      ours instanceof Error,
      theirs instanceof Error,
      `mutation ${i}: ${ours instanceof Error ? ours.message : 'accepted'} vs forge ${theirs instanceof Error ? theirs.message : 'accepted'}`,
    );
    if (ours instanceof Error) {
      refused++;
      continue;
    }
    assert.deepEqual(plain(ours), plain(theirs as Asn1), `mutation ${i}`);
    assert.deepEqual(encodeDer(ours), forgeEncode(ours), `mutation ${i}`);
  }
  assert.ok(refused > 1000 && refused < 10_000, `${refused} refused`);
});

test('builders encode as forge encodes them: strings, integers, long lengths', () => {
  const tree = seq([
    oid('1.2.840.113549.1.9.7'),
    utf8('Grüße, 東京'),
    bmp('friendly name'),
    ...[0, 1, 127, 128, 255, 256, 65535, -1, -128, -129, 2 ** 31 - 1, -(2 ** 31)].map(int),
    seq(Array.from({ length: 300 }, (_, i) => int(i))),
  ]);
  assert.deepEqual(toDer(tree), forgeEncode(tree));
  const forgeInts = [0, 1, 127, 128, 255, 256, 65535, -1, -128, -129, 2 ** 31 - 1, -(2 ** 31)].map((n) => asn1.integerToDer(n).getBytes());
  assert.deepEqual(
    forgeInts,
    [0, 1, 127, 128, 255, 256, 65535, -1, -128, -129, 2 ** 31 - 1, -(2 ** 31)].map((n) => int(n).value),
  );
});

test('OIDs: the usual ones as forge writes them, and arcs past 2^53 (UUID OIDs) without loss', () => {
  for (const dotted of ['1.2.840.113549.1.1.11', '2.5.29.17', '0.9.2342.19200300.100.1.1', '1.3.6.1.4.1.311.20.2.3', '2.16.840.1.101.3.2.1.3.13']) {
    assert.equal(oidContent(dotted), asn1.oidToDer(dotted).getBytes());
    assert.equal(oidFromContent(oidContent(dotted)), dotted);
  }
  const uuid = '2.25.329800735698586629295641978511506172918';
  assert.equal(oidFromContent(oidContent(uuid)), uuid);
  assert.equal(oidFromContent(oidContent('2.999.3')), '2.999.3', 'a first subidentifier of two bytes');
  assert.throws(() => oidFromContent('\x2a\x86'), /malformed/);
  assert.throws(() => oidContent('1.2.x'), /not an OBJECT IDENTIFIER/);
});
