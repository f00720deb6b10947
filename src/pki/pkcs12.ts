/**
 * PKCS#12 (RFC 7292) in two profiles:
 *  - modern: key in PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256), HMAC-SHA256 MAC;
 *    OpenSSL 3 and current platforms open it without legacy algorithms.
 *  - apple:  key and certificates under pbeWithSHAAnd3-KeyTripleDES-CBC,
 *    HMAC-SHA1 MAC; what iOS and older macOS keychains import.
 * Symmetric crypto, hashing and the PBES2 wrapping run in OpenSSL through
 * node:crypto; forge supplies only the ASN.1 encoding.
 */
import { createCipheriv, createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { bmp, explicit, nul, parseDer, implicitOctets, int, octets, oid, seq, set, toDer, type Asn1 } from './asn1.js';
import { pkcs12Kdf, type KdfPurpose } from './pkcs12-kdf.js';

export type Pkcs12Format = 'modern' | 'apple';

export interface Pkcs12Input {
  key: KeyObject;
  /** End-entity certificate, DER. */
  cert: Buffer;
  /** Issuing chain, DER, nearest issuer first. */
  chain?: Buffer[];
  password: string;
  friendlyName?: string;
  format: Pkcs12Format;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.2', // pkcs8ShroudedKeyBag
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbeSha1And3Des: '1.2.840.113549.1.12.1.3',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
};

const ITERATIONS = 2048;

const p12Kdf = (password: string, salt: Buffer, id: KdfPurpose, size: number, md: 'sha1' | 'sha256'): Buffer =>
  pkcs12Kdf(password, salt, id, ITERATIONS, size, md);

function pbe3Des(password: string, plain: Buffer): { algorithm: Asn1; encrypted: Buffer } {
  const salt = randomBytes(8);
  const key = p12Kdf(password, salt, 1, 24, 'sha1');
  const iv = p12Kdf(password, salt, 2, 8, 'sha1');
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { algorithm: seq([oid(OID.pbeSha1And3Des), seq([octets(salt), int(ITERATIONS)])]), encrypted };
}

function bagAttributes(localKeyId: Buffer, friendlyName: string | undefined): Asn1 {
  const attrs = [seq([oid(OID.localKeyId), set([octets(localKeyId)])])];
  if (friendlyName) attrs.push(seq([oid(OID.friendlyName), set([bmp(friendlyName)])]));
  return set(attrs);
}

function certBag(der: Buffer, attributes?: Asn1): Asn1 {
  const bag = [oid(OID.certBag), explicit(0, seq([oid(OID.x509Certificate), explicit(0, octets(der))]))];
  if (attributes) bag.push(attributes);
  return seq(bag);
}

function shroudedKeyBag(key: KeyObject, password: string, format: Pkcs12Format, attributes: Asn1): Asn1 {
  let encryptedPrivateKeyInfo: Asn1;
  if (format === 'modern') {
    // OpenSSL 3 writes PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC here.
    const der = key.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: password });
    encryptedPrivateKeyInfo = parseDer(der);
  } else {
    const plain = key.export({ type: 'pkcs8', format: 'der' });
    const { algorithm, encrypted } = pbe3Des(password, plain);
    encryptedPrivateKeyInfo = seq([algorithm, octets(encrypted)]);
  }
  return seq([oid(OID.keyBag), explicit(0, encryptedPrivateKeyInfo), attributes]);
}

const dataContentInfo = (content: Buffer): Asn1 => seq([oid(OID.data), explicit(0, octets(content))]);

function encryptedContentInfo(password: string, content: Buffer): Asn1 {
  const { algorithm, encrypted } = pbe3Des(password, content);
  return seq([oid(OID.encryptedData), explicit(0, seq([int(0), seq([oid(OID.data), algorithm, implicitOctets(0, encrypted)])]))]);
}

export function buildPkcs12(input: Pkcs12Input): Buffer {
  const localKeyId = createHash('sha1').update(input.cert).digest();
  const attributes = bagAttributes(localKeyId, input.friendlyName);
  const certSafe = toDer(seq([certBag(input.cert, attributes), ...(input.chain ?? []).map((c) => certBag(c))]));
  const keySafe = toDer(seq([shroudedKeyBag(input.key, input.password, input.format, attributes)]));

  const certInfo = input.format === 'apple' ? encryptedContentInfo(input.password, certSafe) : dataContentInfo(certSafe);
  const authSafe = toDer(seq([certInfo, dataContentInfo(keySafe)]));

  const md = input.format === 'apple' ? 'sha1' : 'sha256';
  const macSalt = randomBytes(input.format === 'apple' ? 8 : 16);
  const macKey = p12Kdf(input.password, macSalt, 3, md === 'sha1' ? 20 : 32, md);
  const mac = createHmac(md, macKey).update(authSafe).digest();
  const macData = seq([seq([seq([oid(md === 'sha1' ? OID.sha1 : OID.sha256), nul()]), octets(mac)]), octets(macSalt), int(ITERATIONS)]);

  return toDer(seq([int(3), dataContentInfo(authSafe), macData]));
}
