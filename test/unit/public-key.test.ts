import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { publicKeyFromSpki, spkiOf } from '../../src/pki/public-key.js';

const der = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
/** What OpenSSL makes of the bytes: a key, or the fact that it refuses them. */
const openssl = (bytes: Buffer): KeyObject | 'refused' => {
  try {
    return createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch {
    return 'refused';
  }
};
const ours = (bytes: Buffer): KeyObject | 'refused' => {
  try {
    return publicKeyFromSpki(bytes);
  } catch {
    return 'refused';
  }
};
const agree = (bytes: Buffer): boolean => {
  const [a, b] = [openssl(bytes), ours(bytes)];
  return a === 'refused' || b === 'refused' ? a === b : a.equals(b) && der(a).equals(der(b));
};

const keys: [string, KeyObject][] = [
  ...[1024, 2048, 3072, 4096].map((bits): [string, KeyObject] => [`RSA-${bits}`, generateKeyPairSync('rsa', { modulusLength: bits }).publicKey]),
  ['RSA-2048 e=3', generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey],
  ...['prime256v1', 'secp384r1', 'secp521r1', 'secp256k1'].map((curve): [string, KeyObject] => [
    curve,
    generateKeyPairSync('ec', { namedCurve: curve }).publicKey,
  ]),
  ['Ed25519', generateKeyPairSync('ed25519').publicKey],
];

describe('SubjectPublicKeyInfo without OpenSSL decoders', () => {
  for (const [name, key] of keys) {
    it(`${name}: the same DER as OpenSSL writes, and the same key back`, () => {
      assert.ok(spkiOf(key).equals(der(key)));
      const back = publicKeyFromSpki(der(key));
      assert.ok(back.equals(key));
      assert.deepEqual(back.asymmetricKeyDetails, key.asymmetricKeyDetails);
    });
  }

  it('spkiOf a private key is its public key info', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    assert.ok(spkiOf(privateKey).equals(der(publicKey)));
  });

  it('non-canonical encodings are left to OpenSSL, which decides as before', () => {
    const rsa = der(keys[1]![1]);
    // The same key with a long-form length where the short form fits: not DER.
    const algorithm = rsa.subarray(4, 19); // SEQUENCE { rsaEncryption, NULL }
    const longForm = Buffer.concat([rsa.subarray(0, 4), Buffer.from([0x30, 0x81, algorithm[1]!]), algorithm.subarray(2), rsa.subarray(19)]);
    longForm.writeUInt16BE(rsa.readUInt16BE(2) + 1, 2);
    assert.ok(agree(longForm));
    // An EC point that is not on its curve.
    const ec = Buffer.from(der(keys[5]![1]));
    ec[ec.length - 1]! ^= 1;
    assert.equal(ours(ec), 'refused');
    assert.ok(agree(ec));
  });

  it('agrees with OpenSSL on every single-byte change and truncation of RSA and EC keys', () => {
    for (const [, key] of [keys[1]!, keys[5]!, keys[7]!]) {
      const good = der(key);
      for (let i = 0; i < good.length; i++) {
        for (const flip of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(good);
          bad[i]! ^= flip;
          assert.ok(agree(bad), `byte ${i} ^ ${flip}`);
        }
        assert.ok(agree(good.subarray(0, i)), `truncated to ${i}`);
      }
    }
  });
});
