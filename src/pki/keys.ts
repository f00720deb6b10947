/** Key generation on OpenSSL's thread pool (never on the event loop) and forge conversions. */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generate = promisify(generateKeyPair);

export type KeyAlgorithm = 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export async function generateKey(algorithm: KeyAlgorithm): Promise<KeyPair> {
  const modulusLength = Number(algorithm.slice(4));
  return generate('rsa', { modulusLength, publicExponent: 0x10001 });
}

/** forge needs its own public-key object to place the key in a certificate. */
export function toForgePublicKey(key: KeyObject): forge.pki.PublicKey {
  return forge.pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }).toString());
}
