/** Key generation on OpenSSL's thread pool, never on the event loop. */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export const KEY_ALGORITHMS = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const CURVES = { 'ec-p256': 'P-256', 'ec-p384': 'P-384' } as const;

export async function generateKey(algorithm: KeyAlgorithm): Promise<KeyPair> {
  if (algorithm === 'ec-p256' || algorithm === 'ec-p384') return generate('ec', { namedCurve: CURVES[algorithm] });
  return generate('rsa', { modulusLength: Number(algorithm.slice(4)), publicExponent: 0x10001 });
}
