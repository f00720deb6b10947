/** The text the issuer writes without parsing certificates back must be what OpenSSL reads from them. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildCertificate, type NameAttribute } from '../../src/pki/certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { formatName } from '../../src/pki/names.js';
import { NativeSigner } from '../../src/pki/native-signer.js';

describe('certificate text without OpenSSL', () => {
  let signer: NativeSigner;
  before(async () => {
    signer = new NativeSigner((await generateKey('ec-p256')).privateKey);
  });
  const build = (subject: NameAttribute[]) =>
    buildCertificate({
      subject,
      publicKey: signer.publicKey,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      signer,
      subjectAltNames: [{ type: 'dns', value: 'x.example' }],
    });

  test('formatName prints names as X509Certificate#subject does, escapes included', async () => {
    const values = [
      'plain',
      ' lead',
      'trail ',
      ' ',
      '  ',
      '#',
      '#x',
      'x#',
      '##',
      ' # ',
      'a,b',
      'a+b',
      'a"b',
      'a\\b',
      'a<b>c',
      'a;b',
      'a=b',
      'tab\tx',
      'nl\nx',
      'del\x7fx',
      'nul\x00x',
      'esc\x1b',
      "o'brien",
      'a/b(c)*',
      'Jürgen Groß',
      'München, Bayern',
      '€uro',
      '😀 smile',
      'é',
      ' é ',
      '#é',
      '\u00a0nbsp',
      'zero\u200bwidth',
    ];
    const types = ['CN', 'SN', 'GN', 'givenName', 'T', 'title', 'street', 'O', 'OU', 'L', 'ST', 'UID'];
    for (const [i, value] of values.entries()) {
      const subject = [
        { type: types[i % types.length]!, value },
        { type: 'E', value: `u${i}@example.com` },
      ];
      const openssl = (await build(subject)).x509.subject.split('\n').join(', ');
      assert.equal(formatName(subject), openssl, JSON.stringify(value));
    }
    const ascii = [
      { type: 'C', value: 'DE' },
      { type: 'serialNumber', value: '12 34' },
      { type: 'DC', value: 'ex#ample' },
      { type: 'emailAddress', value: ' x;y@z ' },
    ];
    assert.equal(formatName(ascii), (await build(ascii)).x509.subject.split('\n').join(', '));
    assert.equal(formatName([]), '', 'an empty subject (X509Certificate#subject is undefined then)');
    assert.equal(
      formatName([
        { type: 'CN', value: 'x' },
        { type: '2.5.4.17', value: '80331' },
      ]),
      undefined,
      'dotted OIDs are left to OpenSSL',
    );
  });

  test('PEM is byte for byte what OpenSSL writes', async () => {
    for (const cn of ['a', 'a much longer common name so that the encoding crosses another line of base64 text'.repeat(3)]) {
      const built = await build([{ type: 'CN', value: cn }]);
      assert.equal(built.pem, built.x509.toString());
    }
  });
});
