/** What OTA accepts from a device: XML plists (and nothing else) and CMS in DER or BER. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildCertificate } from '../../src/pki/certificate.js';
import { berToDer } from '../../src/pki/cms/ber.js';
import { parseSignedData, signerCertificate, verifySigner } from '../../src/pki/cms/signed-data.js';
import { DerError } from '../../src/pki/der-reader.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { DeviceRequestError, readDeviceRequest } from '../../src/protocols/ota/device-request.js';
import { PlistError, readPlistDict, writePlist } from '../../src/protocols/ota/plist.js';
import { makeDeviceCa, signDeviceMessage } from '../helpers/iphone.js';
import { tempDir } from '../helpers/tmp.js';

describe('plist', () => {
  test('data, integers, booleans, nested arrays and keys with spaces survive a round trip', () => {
    const value = { 'Key Type': 'RSA', 'Key Usage': 5, CAFingerprint: Buffer.from([0, 1, 254, 255]), IsEncrypted: true, Subject: [[['CN', 'x & <y>']]] };
    const xml = writePlist(value).toString();
    assert.match(xml, /<key>Key Usage<\/key>\s*<integer>5<\/integer>/);
    assert.match(xml, /<data>AAH\+\/w==<\/data>/);
    assert.match(xml, /<string>x &amp; &lt;y&gt;<\/string>/);
    const back = readPlistDict(writePlist(value));
    assert.deepEqual({ ...back, CAFingerprint: Buffer.from(back.CAFingerprint as Uint8Array) }, value);
  });

  const refused: [string, string | Buffer, RegExp][] = [
    ['unclosed tags', '<plist><dict><key>a</key><string>x</dict></plist>', /well-formed/],
    ['not XML', 'just text', /XML property list/],
    ['OpenStep', '{ UDID = "x"; }', /XML property list/],
    ['binary plist', Buffer.from('bplist00\xd1\x01\x02', 'latin1'), /XML property list|UTF-8/],
    ['not UTF-8', Buffer.from([0x3c, 0x70, 0xff, 0xfe]), /UTF-8/],
    ['an entity declaration', '<!DOCTYPE plist [<!ENTITY x "y">]><plist><dict><key>a</key><string>&x;</string></dict></plist>', /XML property list/],
    ['an undeclared entity', '<plist><dict><key>a</key><string>&x;</string></dict></plist>', /entities/],
    ['an unknown element', '<plist><dict><key>a</key><foo/></dict></plist>', /malformed property list/],
    ['bad base64', '<plist><dict><key>a</key><data>!!!</data></dict></plist>', /malformed property list/],
    ['__proto__', '<plist><dict><key>__proto__</key><string>x</string></dict></plist>', /malformed property list/],
    ['an array at the top', '<plist><array><string>x</string></array></plist>', /dictionary/],
    ['empty', '', /XML property list/],
  ];
  for (const [what, input, message] of refused) {
    test(`refuses ${what} with a PlistError, quietly`, () => {
      const errors: unknown[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => errors.push(args);
      try {
        assert.throws(
          () => readPlistDict(Buffer.isBuffer(input) ? input : Buffer.from(input)),
          (err: unknown) => err instanceof PlistError && message.test(err.message),
        );
      } finally {
        console.error = original;
      }
      assert.deepEqual(errors, [], 'nothing reaches the console');
    });
  }
});

describe('BER → DER', () => {
  const dir = tempDir();
  const content = '<?xml version="1.0"?><plist version="1.0"><dict><key>UDID</key><string>0123456789abcdef0123456789abcdef01234567</string></dict></plist>';

  test('openssl cms -stream output (indefinite lengths, chunked content) reads like the DER form', async () => {
    const { device } = await makeDeviceCa(join(dir, 'ca'), 'BER Test CA');
    const der = signDeviceMessage(dir, content, device);
    const ber = signDeviceMessage(dir, content, device, { stream: true });
    assert.ok(ber.includes(Buffer.from([0x30, 0x80])), 'the streamed form uses indefinite lengths');
    assert.throws(() => parseSignedData(ber), /not DER|indefinite/i, 'the strict SCEP path refuses BER');
    assert.ok(berToDer(der).equals(der), 'DER passes through unchanged');
    const sd = parseSignedData(berToDer(ber));
    assert.equal(sd.content?.toString(), content);
    const signer = sd.signers[0]!;
    assert.ok(verifySigner(sd, signer, signerCertificate(signer, sd.certificates)!), 'signed attributes and certificate survive byte for byte');
    const request = readDeviceRequest(ber);
    assert.equal(request.attributes.UDID, '0123456789abcdef0123456789abcdef01234567');
  });

  test('garbage and truncated BER are DerErrors; a readable message with a bad signature is refused', async () => {
    assert.throws(() => berToDer(Buffer.from('not asn.1 at all')), DerError);
    const { device } = await makeDeviceCa(join(dir, 'ca2'), 'BER Test CA 2');
    const ber = signDeviceMessage(dir, content, device, { stream: true });
    assert.throws(() => berToDer(ber.subarray(0, ber.length - 3)), DerError);
    assert.throws(() => readDeviceRequest(ber.subarray(0, 100)), DeviceRequestError);
    // Same structure, other content: the messageDigest no longer matches.
    const tampered = Buffer.from(ber);
    const at = tampered.indexOf(Buffer.from('0123456789abcdef'));
    tampered[at] = 0x31;
    assert.throws(() => readDeviceRequest(tampered), /does not verify/);
  });

  test('a certificate with an unreadable key still gives a DeviceRequestError, not a crash', async () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const cert = await buildCertificate({
      subject: [{ type: 'CN', value: 'x' }],
      publicKey: key.publicKey,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 1e6),
      signer: new NativeSigner(key.privateKey),
    });
    assert.throws(() => readDeviceRequest(cert.der), DeviceRequestError);
  });
});
