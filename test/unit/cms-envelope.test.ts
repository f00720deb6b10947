/**
 * CMS EnvelopedData against OpenSSL's own implementation, in both
 * directions and for every content cipher SCEP clients send. Single DES
 * comes from OpenSSL's legacy provider here, an implementation independent
 * of the gateway's (triple DES under one key).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  buildEnvelopedData,
  decryptEnvelopedData,
  decryptEnvelopedDataWith,
  parseEnvelopedData,
  type ContentCipher,
} from '../../src/pki/cms/enveloped-data.js';
import { RsaDecryptThread } from '../../src/pki/rsa-decrypt-thread.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';

const CLI_CIPHER: Record<ContentCipher, string> = {
  'des-cbc': '-des',
  'des-ede3-cbc': '-des3',
  'aes-128-cbc': '-aes128',
  'aes-192-cbc': '-aes192',
  'aes-256-cbc': '-aes256',
};
const PROVIDERS = ['-provider', 'legacy', '-provider', 'default'];

describe('CMS EnvelopedData and OpenSSL', () => {
  const dir = tempDir();
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=recipient', '-days', '1']);
  const cert = new X509Certificate(readFileSync(certFile));
  const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
  const content = randomBytes(1500);
  writeFileSync(join(dir, 'content.bin'), content);
  // The gateway's RA decrypts on a worker thread; devices (and this test) also on their own.
  const thread = new RsaDecryptThread(key);
  after(() => thread.close());

  for (const cipher of Object.keys(CLI_CIPHER) as ContentCipher[]) {
    test(`${cipher}: what OpenSSL encrypts, the gateway decrypts, and the other way round`, async () => {
      const fromOpenssl = join(dir, `${cipher}.openssl.der`);
      openssl([
        'cms',
        '-encrypt',
        '-binary',
        CLI_CIPHER[cipher],
        ...PROVIDERS,
        '-in',
        join(dir, 'content.bin'),
        '-outform',
        'DER',
        '-out',
        fromOpenssl,
        certFile,
      ]);
      const env = parseEnvelopedData(readFileSync(fromOpenssl));
      assert.equal(env.cipher, cipher);
      assert.ok(decryptEnvelopedData(env, cert.raw, key).equals(content), 'the gateway reads what OpenSSL wrote');
      assert.ok((await decryptEnvelopedDataWith(env, cert.raw, thread)).equals(content), 'and so does its RA decryption thread');

      const toOpenssl = join(dir, `${cipher}.gateway.der`);
      writeFileSync(toOpenssl, buildEnvelopedData(content, cert, cipher));
      const out = join(dir, `${cipher}.out`);
      openssl(['cms', '-decrypt', '-binary', ...PROVIDERS, '-inform', 'DER', '-in', toOpenssl, '-recip', certFile, '-inkey', keyFile, '-out', out]);
      assert.ok(readFileSync(out).equals(content), 'OpenSSL reads what the gateway wrote');
    });
  }

  test('a wrong key fails like any other decryption failure', async () => {
    const env = parseEnvelopedData(buildEnvelopedData(content, cert, 'des-cbc'));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.throws(() => decryptEnvelopedData(env, cert.raw, other), /could not be decrypted/);
    const otherThread = new RsaDecryptThread(other);
    await assert.rejects(decryptEnvelopedDataWith(env, cert.raw, otherThread), /could not be decrypted/);
    await otherThread.close();
  });
});
