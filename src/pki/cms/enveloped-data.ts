/**
 * CMS EnvelopedData (RFC 5652 §6) with RSA key transport, for SCEP messages
 * and encrypted Apple profiles.
 *
 * Decryption never tells one failure from another: Node 20 refuses RSA
 * PKCS#1 v1.5 decryption (CVE-2023-46809), so the raw RSA block is taken
 * with RSA_NO_PADDING and unpadded here without branching on secret data;
 * on bad padding a key derived from the ciphertext stands in (implicit
 * rejection), and the content decryption then fails like any other wrong
 * key would. Callers get one CmsDecryptError whatever went wrong.
 */
import { constants, createCipheriv, createDecipheriv, createHmac, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { derOctets, derOid, int, nul, oid, seq, tlv, toDer, type Asn1 } from '../asn1.js';
import { constructed, CONTEXT, DerError, oidOf, primitive, readDer, TAG } from '../der-reader.js';
import type { RsaDecryptor } from '../rsa-decrypt-thread.js';
import { bigintInteger, integerHex } from '../x509-der.js';
import { certificateIdentity, CMS_OID } from './signed-data.js';

export type ContentCipher = 'des-cbc' | 'des-ede3-cbc' | 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';

const CIPHERS: Record<string, { name: ContentCipher; keyLength: number; ivLength: number }> = {
  '1.3.14.3.2.7': { name: 'des-cbc', keyLength: 8, ivLength: 8 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
};
const CIPHER_OIDS = Object.fromEntries(Object.entries(CIPHERS).map(([o, c]) => [c.name, o])) as Record<ContentCipher, string>;
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const RSA_OAEP = '1.2.840.113549.1.1.7';

/** Malformed EnvelopedData (safe to describe: no secret involved yet). */
export class CmsFormatError extends Error {}
/** Any failure once our key is involved; deliberately without detail. */
export class CmsDecryptError extends Error {
  constructor() {
    super('the message could not be decrypted');
  }
}

export interface Recipient {
  issuer: Buffer;
  serial: string;
  algorithm: string;
  encryptedKey: Buffer;
}

export interface EnvelopedData {
  recipients: Recipient[];
  cipher: ContentCipher;
  iv: Buffer;
  encryptedContent: Buffer;
}

/** Reads a ContentInfo holding EnvelopedData, or a bare EnvelopedData (as SCEP's signed content carries it). */
export function parseEnvelopedData(der: Buffer): EnvelopedData {
  try {
    let node = readDer(der, 'EnvelopedData');
    const top = constructed(node, TAG.SEQUENCE, 'EnvelopedData');
    if (top[0]?.type === TAG.OID && top[0].tagClass !== CONTEXT) {
      if (oidOf(top[0], 'contentType') !== CMS_OID.envelopedData) throw new CmsFormatError('ContentInfo does not hold EnvelopedData');
      const wrapped = top[1];
      if (!wrapped || wrapped.tagClass !== CONTEXT || !Array.isArray(wrapped.value)) throw new CmsFormatError('content: expected [0] EXPLICIT');
      node = wrapped.value[0]!;
    }
    const f = constructed(node, TAG.SEQUENCE, 'EnvelopedData');
    let i = 1; // version
    if (f[i]?.tagClass === CONTEXT && f[i]!.type === 0) i++; // originatorInfo
    const recipients = constructed(f[i++], TAG.SET, 'recipientInfos').flatMap(readRecipient);
    const eci = constructed(f[i], TAG.SEQUENCE, 'encryptedContentInfo');
    const [algOid, params] = constructed(eci[1], TAG.SEQUENCE, 'contentEncryptionAlgorithm');
    const cipherOid = oidOf(algOid, 'contentEncryptionAlgorithm');
    const cipher = CIPHERS[cipherOid];
    if (!cipher) throw new CmsFormatError(`unsupported content encryption ${cipherOid}`);
    const iv = Buffer.from(primitive(params, TAG.OCTET_STRING, 'content encryption IV'), 'binary');
    if (iv.length !== cipher.ivLength) throw new CmsFormatError(`content encryption IV has ${iv.length} bytes, ${cipher.ivLength} expected`);
    const content = eci[2];
    if (!content || content.tagClass !== CONTEXT || content.type !== 0) throw new CmsFormatError('encryptedContent is missing');
    // DER says primitive; BER producers may split it into constructed chunks.
    const encryptedContent = Array.isArray(content.value)
      ? Buffer.concat(content.value.map((c, n) => Buffer.from(primitive(c, TAG.OCTET_STRING, `encryptedContent[${n}]`), 'binary')))
      : Buffer.from(content.value, 'binary');
    return { recipients, cipher: cipher.name, iv, encryptedContent };
  } catch (err) {
    if (err instanceof DerError) throw new CmsFormatError(err.message);
    throw err;
  }
}

/** KeyTransRecipientInfo by issuerAndSerialNumber; other recipient kinds are not for us and are skipped. */
function readRecipient(node: Asn1, n: number): Recipient[] {
  if (node.tagClass === CONTEXT) return []; // kari, kekri, pwri, ori
  const f = constructed(node, TAG.SEQUENCE, `recipientInfos[${n}]`);
  if (f[1]?.tagClass === CONTEXT) return []; // identified by subjectKeyIdentifier
  const rid = constructed(f[1], TAG.SEQUENCE, `recipientInfos[${n}].rid`);
  const serialBytes = Buffer.from(primitive(rid[1], TAG.INTEGER, `recipientInfos[${n}].serialNumber`), 'binary');
  const algorithm = oidOf(constructed(f[2], TAG.SEQUENCE, `recipientInfos[${n}].keyEncryptionAlgorithm`)[0], `recipientInfos[${n}].keyEncryptionAlgorithm`);
  const encryptedKey = Buffer.from(primitive(f[3], TAG.OCTET_STRING, `recipientInfos[${n}].encryptedKey`), 'binary');
  return [{ issuer: toDer(rid[0]!), serial: integerHex(serialBytes), algorithm, encryptedKey }];
}

/** The recipient entry addressed to `cert`, if any. */
export function recipientFor(env: EnvelopedData, cert: Buffer): Recipient | undefined {
  const id = certificateIdentity(cert);
  return id && env.recipients.find((r) => r.serial === id.serial && r.issuer.equals(id.issuer));
}

// One secret per process: implicit-rejection keys are stable for a given ciphertext but unpredictable.
const rejectionSecret = randomBytes(32);

/** Constant-time PKCS#1 v1.5 type 2 unpadding; a stand-in key of the expected length when anything is wrong. */
function unpadOrStandIn(em: Buffer, keyLength: number, ciphertext: Buffer): Buffer {
  let good = (((em[0]! | (em[1]! ^ 2)) - 1) >>> 31) & 1;
  let found = 0;
  let separator = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = ((em[i]! - 1) >>> 31) & 1;
    const take = isZero & (found ^ 1);
    separator |= -take & i;
    found |= isZero;
  }
  good &= found;
  good &= ((9 - separator) >>> 31) & 1; // at least 8 bytes of padding
  good &= (((em.length - separator - 1) ^ keyLength) - 1) >>> 31;
  const standIn = createHmac('sha256', rejectionSecret).update(ciphertext).digest();
  const out = Buffer.alloc(keyLength);
  const mask = -good & 0xff;
  for (let i = 0; i < keyLength; i++) {
    const real = em[Math.min(separator + 1 + i, em.length - 1)]!;
    out[i] = (real & mask) | (standIn[i % standIn.length]! & ~mask);
  }
  return out;
}

/** Decrypts the content addressed to (cert, key). Every failure is the same CmsDecryptError. */
export function decryptEnvelopedData(env: EnvelopedData, cert: Buffer, key: KeyObject): Buffer {
  const { recipient, keyLength } = addressedTo(env, cert);
  try {
    const oaep = recipient.algorithm === RSA_OAEP;
    const decrypted = privateDecrypt({ key, padding: oaep ? constants.RSA_PKCS1_OAEP_PADDING : constants.RSA_NO_PADDING }, recipient.encryptedKey);
    return open(env, oaep ? decrypted : unpadOrStandIn(decrypted, keyLength, recipient.encryptedKey));
  } catch {
    throw new CmsDecryptError();
  }
}

/** decryptEnvelopedData with the private key wherever `rsa` keeps it (e.g. on a worker thread). */
export async function decryptEnvelopedDataWith(env: EnvelopedData, cert: Buffer, rsa: RsaDecryptor): Promise<Buffer> {
  const { recipient, keyLength } = addressedTo(env, cert);
  try {
    if (recipient.algorithm === RSA_OAEP) return open(env, await rsa.oaep(recipient.encryptedKey));
    return open(env, unpadOrStandIn(await rsa.raw(recipient.encryptedKey), keyLength, recipient.encryptedKey));
  } catch {
    throw new CmsDecryptError();
  }
}

/** The recipient entry for `cert` with an RSA key transport we can undo, and the content key's length. */
function addressedTo(env: EnvelopedData, cert: Buffer): { recipient: Recipient; keyLength: number } {
  const recipient = recipientFor(env, cert);
  if (!recipient || (recipient.algorithm !== RSA_OAEP && recipient.algorithm !== RSA_ENCRYPTION)) throw new CmsDecryptError();
  return { recipient, keyLength: CIPHERS[CIPHER_OIDS[env.cipher]]!.keyLength };
}

const open = (env: EnvelopedData, contentKey: Buffer): Buffer => cbc('decrypt', env.cipher, contentKey, env.iv, env.encryptedContent);

/** CBC with PKCS#7 padding in either direction; a padding error on decryption throws. */
function cbc(direction: 'encrypt' | 'decrypt', cipher: ContentCipher, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  // Single DES lives in OpenSSL's legacy provider, which is not loaded. Triple
  // DES with one key three times is single DES (encrypt, decrypt and encrypt
  // again under one key is one encryption), so old clients are served by the
  // default provider too.
  const [name, k] = cipher === 'des-cbc' ? (['des-ede3-cbc', Buffer.concat([key, key, key])] as const) : [cipher, key];
  const c = direction === 'encrypt' ? createCipheriv(name, k, iv) : createDecipheriv(name, k, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** A recipient's certificate DER and its public key (an X509Certificate is one). */
export interface RecipientCertificate {
  raw: Buffer;
  publicKey: KeyObject;
}

const VERSION_0 = toDer(int(0));
const RSA_KEY_TRANSPORT = toDer(seq([oid(RSA_ENCRYPTION), nul()]));

/** EnvelopedData ContentInfo of `content` for one or more RSA recipient certificates. */
export function buildEnvelopedData(content: Buffer, recipients: RecipientCertificate | RecipientCertificate[], cipher: ContentCipher = 'aes-256-cbc'): Buffer {
  const spec = CIPHERS[CIPHER_OIDS[cipher]]!;
  const key = randomBytes(spec.keyLength);
  const iv = randomBytes(spec.ivLength);
  const recipientInfos = (Array.isArray(recipients) ? recipients : [recipients]).map((recipient) => {
    const id = certificateIdentity(recipient.raw);
    if (!id) throw new Error('recipient certificate is not readable');
    if (recipient.publicKey.asymmetricKeyType !== 'rsa') throw new Error('recipient certificate must hold an RSA key');
    const encryptedKey = publicEncrypt({ key: recipient.publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
    // KeyTransRecipientInfo: version 0, issuerAndSerialNumber (the name as the certificate encodes it), rsaEncryption, the key.
    return tlv(0x30, [VERSION_0, tlv(0x30, [id.issuer, toDer(bigintInteger(BigInt(`0x${id.serial}`)))]), RSA_KEY_TRANSPORT, derOctets(encryptedKey)]);
  });
  const enveloped = tlv(0x30, [
    VERSION_0,
    tlv(0x31, recipientInfos),
    tlv(0x30, [derOid(CMS_OID.data), tlv(0x30, [derOid(CIPHER_OIDS[cipher]), derOctets(iv)]), tlv(0x80, [cbc('encrypt', cipher, key, iv, content)])]),
  ]);
  return tlv(0x30, [derOid(CMS_OID.envelopedData), tlv(0xa0, [enveloped])]);
}
