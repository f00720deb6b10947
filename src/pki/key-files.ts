/**
 * Private keys in files are stored as encrypted PKCS#8 PEM (PBES2,
 * AES-256-CBC, PBKDF2-HMAC-SHA256) with the master key (hex) as passphrase,
 * so an operator holding the master key can open them with openssl:
 *   openssl pkey -in certs/issuing-ca-key.pem -passin file:certs/master.key
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeSecretFile } from './files.js';

export function encryptedPem(key: KeyObject, masterKey: Buffer): string {
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: masterKey.toString('hex') }).toString();
}

export function writeKeyFile(path: string, key: KeyObject, masterKey: Buffer, opts: { overwrite: boolean }): void {
  writeSecretFile(path, encryptedPem(key, masterKey), opts);
}

/** Reads a PEM key, encrypted under the master key or (operator-supplied) in the clear. */
export function readKeyFile(path: string, masterKey: Buffer | undefined): KeyObject {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(masterKey && { passphrase: masterKey.toString('hex') }) });
  } catch (err) {
    if (!pem.includes('ENCRYPTED')) throw new Error(`${path}: not a readable PEM private key (${(err as Error).message})`);
    throw new Error(
      masterKey
        ? `${path}: cannot decrypt the private key; is the master key (pki.masterKey, CREDGATE_MASTER_KEY or master.key in pki.dir) the one it was written with?`
        : `${path}: the private key is encrypted under a master key, and there is none (pki.masterKey, CREDGATE_MASTER_KEY or master.key in pki.dir)`,
    );
  }
}
