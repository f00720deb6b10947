import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import forge from 'node-forge';
import { pkcs12Kdf } from '../../src/pki/pkcs12-kdf.js';

// forge's implementation is the independent reference here; production derives natively.
const reference = (password: string, salt: Buffer, id: 1 | 2 | 3, iterations: number, size: number, md: 'sha1' | 'sha256') =>
  Buffer.from(
    forge.pkcs12
      .generateKey(
        password,
        forge.util.createBuffer(salt.toString('binary')),
        id,
        iterations,
        size,
        md === 'sha1' ? forge.md.sha1.create() : forge.md.sha256.create(),
      )
      .getBytes(),
    'binary',
  );

describe('PKCS#12 key derivation', () => {
  test('matches an independent implementation for every purpose, size and hash', () => {
    for (const md of ['sha1', 'sha256'] as const)
      for (const password of ['', 'abc', 'a much longer password that spans more than one 64-byte block of BMPString'])
        for (const size of [8, 20, 24, 32, 70])
          for (const id of [1, 2, 3] as const) {
            const salt = randomBytes(md === 'sha1' ? 8 : 16);
            assert.deepEqual(
              pkcs12Kdf(password, salt, id, 100, size, md),
              reference(password, salt, id, 100, size, md),
              `${md} ${id} ${size} ${JSON.stringify(password)}`,
            );
          }
  });

  test('RFC 7292 iteration count is honoured', () => {
    const salt = randomBytes(8);
    assert.notDeepEqual(pkcs12Kdf('pw', salt, 1, 2048, 24, 'sha1'), pkcs12Kdf('pw', salt, 1, 2047, 24, 'sha1'));
    assert.deepEqual(pkcs12Kdf('pw', salt, 1, 2048, 24, 'sha1'), reference('pw', salt, 1, 2048, 24, 'sha1'));
  });
});
