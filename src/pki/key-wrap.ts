/**
 * Private keys at rest: sealed with AES-256-GCM under the master key.
 * Layout: version (1) | iv (12) | tag (16) | ciphertext. The kekId (a
 * fingerprint of the master key) is stored beside each blob so a wrong or
 * rotated master key is reported as such instead of as corrupt data.
 *
 * The sealed plaintext is the key as JWK JSON. OpenSSL 3.0 takes ~0.5 ms of
 * event-loop time to decode a PKCS#8 key and ~17 µs to build one from JWK
 * numbers, and a key built that way also exports faster; the key pool opens a
 * key for every certificate it serves. Blobs holding PKCS#8 DER (written
 * before) still open.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';

const VERSION = 1;

export class KeyWrapError extends Error {}

export interface MasterKey {
  key: Buffer;
  /** First 16 hex digits of SHA-256("credgate kek" || key). */
  id: string;
}

export function masterKeyOf(key: Buffer): MasterKey {
  if (key.length !== 32) throw new KeyWrapError('the master key must be 32 bytes');
  return { key, id: createHash('sha256').update('credgate kek').update(key).digest('hex').slice(0, 16) };
}

/** `context` is bound as AAD (e.g. the certificate serial) so blobs cannot be swapped between rows. */
export function wrapKey(master: MasterKey, privateKey: KeyObject, context: string): string {
  const plain = Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' })));
  const sealed = sealBytes(master, plain, context);
  plain.fill(0);
  return sealed;
}

export function unwrapKey(master: MasterKey, kekId: string, wrapped: string, context: string): KeyObject {
  const plain = openBytes(master, kekId, wrapped, context);
  try {
    return plain[0] === 0x7b // '{'
      ? createPrivateKey({ key: JSON.parse(plain.toString()) as JsonWebKey, format: 'jwk' })
      : createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
  } finally {
    plain.fill(0);
  }
}

/** Seals arbitrary bytes (e.g. a delivery's PKCS#12 files) the same way as keys. */
export function sealBytes(master: MasterKey, plain: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', master.key, iv);
  cipher.setAAD(Buffer.from(context));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ct]).toString('base64');
}

export function openBytes(master: MasterKey, kekId: string, sealed: string, context: string): Buffer {
  if (kekId !== master.id) throw new KeyWrapError(`data was sealed under master key ${kekId}, but the configured master key is ${master.id}`);
  const blob = Buffer.from(sealed, 'base64');
  if (blob[0] !== VERSION || blob.length < 29) throw new KeyWrapError('sealed data has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', master.key, blob.subarray(1, 13));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(blob.subarray(13, 29));
  try {
    return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()]);
  } catch {
    throw new KeyWrapError('sealed data failed authentication (wrong master key or tampered data)');
  }
}
