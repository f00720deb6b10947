/**
 * Opens a PKCS#12 file (RFC 7292) made elsewhere: an OpenSSL, Windows or
 * Java export of a person's certificate and key that another CA issued.
 *
 * node-forge reads the ASN.1 only (BER too, as Windows writes it); the MAC
 * is checked and the safes decrypted through node:crypto, and the private
 * key is decrypted by OpenSSL itself (`createPrivateKey` with the
 * passphrase), so the key never exists as a JavaScript object. The one
 * exception is RC2, which OpenSSL 3 keeps in its legacy provider: older
 * exports (`openssl pkcs12 -legacy`, Windows before Server 2019) encrypt the
 * certificate safe with RC2-40, and certificates are public, so forge's RC2
 * opens that safe; a key under RC2 is refused.
 *
 * Every refusal is a Pkcs12ReadError whose message says what is wrong and
 * never repeats the password or any key material.
 */
import { createDecipheriv, createHmac, createPrivateKey, pbkdf2Sync, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { Refusal } from '../util/refusal.js';
import { pkcs12Kdf, type KdfPurpose } from './pkcs12-kdf.js';

/** A PKCS#12 file that cannot be opened as it is: the sender can fix it. */
export class Pkcs12ReadError extends Refusal {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** A person's certificate and key hold a few kilobytes; a chain of five 4096-bit certificates stays far below this. */
export const MAX_PKCS12_BYTES = 64 * 1024;
/**
 * The highest iteration count accepted for the MAC and the encryptions.
 * OpenSSL writes 2048, Windows 2000 and Java 10000; a count in the millions
 * would make every upload an easy way to keep the event loop busy.
 */
export const MAX_ITERATIONS = 100_000;
/** Bags nested in bags (safeContentsBag) deeper than this are refused. */
const MAX_NESTING = 3;
const MAX_BAGS = 32;

export interface Pkcs12Contents {
  key: KeyObject;
  /** Every certificate in the file, as found. */
  certificates: X509Certificate[];
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeSha1And3Des: '1.2.840.113549.1.12.1.3',
  pbeSha1And2Des: '1.2.840.113549.1.12.1.4',
  pbeSha1And128Rc2: '1.2.840.113549.1.12.1.5',
  pbeSha1And40Rc2: '1.2.840.113549.1.12.1.6',
} as const;

const DIGESTS: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHERS: Record<string, { name: string; keyLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};

type Node = forge.asn1.Asn1;
const { asn1 } = forge;
/** forge's fromDer takes options its type declarations leave out. */
export const fromBer = asn1.fromDer as unknown as (bytes: string, options: { strict: boolean; decodeBitStrings: boolean; parseAllBytes?: boolean }) => Node;

const fail = (message: string): never => {
  throw new Pkcs12ReadError(message);
};

function children(node: Node | undefined, what: string): Node[] {
  if (!node || !Array.isArray(node.value)) return fail(`the file is not a PKCS#12 file: ${what} is missing or malformed`);
  return node.value;
}

function oidOf(node: Node | undefined, what: string): string {
  if (!node || node.type !== asn1.Type.OID || typeof node.value !== 'string')
    return fail(`the file is not a PKCS#12 file: ${what} is not an object identifier`);
  return asn1.derToOid(node.value);
}

/** OCTET STRING content, also in BER's constructed form (pieces to concatenate). */
function octetsOf(node: Node | undefined, what: string): Buffer {
  if (!node) return fail(`the file is not a PKCS#12 file: ${what} is missing`);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(node.value.map((n) => octetsOf(n, what)));
}

function integerOf(node: Node | undefined, what: string): number {
  // forge reads integers of one to four bytes; iteration counts and versions are far below 2^31.
  if (!node || node.type !== asn1.Type.INTEGER || typeof node.value !== 'string' || node.value.length < 1 || node.value.length > 4)
    return fail(`the file is not a PKCS#12 file: ${what} is not a small integer`);
  return asn1.derToInteger(node.value);
}

/** `[n] EXPLICIT` content: the one child of a context-specific node. */
function explicit(node: Node | undefined, n: number, what: string): Node {
  if (!node || node.tagClass !== asn1.Class.CONTEXT_SPECIFIC || node.type !== n) return fail(`the file is not a PKCS#12 file: ${what} is missing`);
  return children(node, what)[0] ?? fail(`the file is not a PKCS#12 file: ${what} is empty`);
}

function parse(der: Buffer, what: string): Node {
  try {
    // Strict lengths, so a truncated file is refused; BER's indefinite lengths and constructed OCTET STRINGs (Windows writes them) still read.
    return fromBer(der.toString('binary'), { strict: true, decodeBitStrings: false, parseAllBytes: true });
  } catch {
    return fail(`the file is not a PKCS#12 file: ${what} is not valid DER or BER`);
  }
}

function iterationsOk(n: number, what: string): number {
  if (n < 1 || n > MAX_ITERATIONS) fail(`${what} uses ${n} iterations; at most ${MAX_ITERATIONS} are accepted: export it again with the default`);
  return n;
}

/** What an encryption AlgorithmIdentifier says, as far as decryption and the iteration limit need. */
type Pbe =
  | { kind: 'pbes2'; salt: Buffer; iterations: number; prf: string; cipher: { name: string; keyLength: number }; iv: Buffer }
  | { kind: 'pkcs12'; oid: string; salt: Buffer; iterations: number };

function pbeOf(algorithm: Node | undefined, what: string): Pbe {
  const [id, params] = children(algorithm, `the ${what} encryption algorithm`);
  const oid = oidOf(id, `the ${what} encryption algorithm`);
  if (oid === OID.pbes2) {
    const [kdf, scheme] = children(params, 'PBES2 parameters');
    const [kdfId, kdfParams] = children(kdf, 'PBES2 key derivation');
    if (oidOf(kdfId, 'PBES2 key derivation') !== OID.pbkdf2) fail(`the ${what} uses a key derivation other than PBKDF2, which is not supported`);
    const fields = children(kdfParams, 'PBKDF2 parameters');
    const salt = octetsOf(fields[0], 'PBKDF2 salt');
    const iterations = iterationsOk(integerOf(fields[1], 'PBKDF2 iteration count'), `the ${what} encryption`);
    // keyLength (INTEGER) is optional before the PRF; the PRF defaults to HMAC-SHA1.
    const prfNode = fields.slice(2).find((f) => f.type === asn1.Type.SEQUENCE);
    const prfOid = prfNode ? oidOf(children(prfNode, 'PBKDF2 PRF')[0], 'PBKDF2 PRF') : '1.2.840.113549.2.7';
    const prf = PRFS[prfOid] ?? fail(`the ${what} uses PBKDF2 with an unsupported PRF (${prfOid})`);
    const [cipherId, iv] = children(scheme, 'PBES2 encryption scheme');
    const cipherOid = oidOf(cipherId, 'PBES2 encryption scheme');
    const cipher = CIPHERS[cipherOid] ?? fail(`the ${what} is encrypted with an unsupported cipher (${cipherOid}); AES-CBC and 3DES are`);
    return { kind: 'pbes2', salt, iterations, prf, cipher, iv: octetsOf(iv, 'PBES2 IV') };
  }
  if (oid === OID.pbeSha1And3Des || oid === OID.pbeSha1And2Des || oid === OID.pbeSha1And128Rc2 || oid === OID.pbeSha1And40Rc2) {
    const [salt, iterations] = children(params, 'PKCS#12 PBE parameters');
    return {
      kind: 'pkcs12',
      oid,
      salt: octetsOf(salt, 'PBE salt'),
      iterations: iterationsOk(integerOf(iterations, 'PBE iteration count'), `the ${what} encryption`),
    };
  }
  return fail(`the ${what} is encrypted with an unsupported algorithm (${oid})`);
}

/** Decrypts a safe (public certificates) under `password`; a wrong password shows as a padding failure. */
function decryptSafe(pbe: Pbe, password: string, encrypted: Buffer): Buffer {
  try {
    if (pbe.kind === 'pbes2') {
      const key = pbkdf2Sync(Buffer.from(password, 'utf8'), pbe.salt, pbe.iterations, pbe.cipher.keyLength, pbe.prf);
      const d = createDecipheriv(pbe.cipher.name, key, pbe.iv);
      return Buffer.concat([d.update(encrypted), d.final()]);
    }
    const kdf = (purpose: KdfPurpose, size: number) => pkcs12Kdf(password, pbe.salt, purpose, pbe.iterations, size, 'sha1');
    if (pbe.oid === OID.pbeSha1And3Des || pbe.oid === OID.pbeSha1And2Des) {
      const key = pbe.oid === OID.pbeSha1And3Des ? kdf(1, 24) : Buffer.concat([kdf(1, 16), kdf(1, 8)]);
      const d = createDecipheriv('des-ede3-cbc', key, kdf(2, 8));
      return Buffer.concat([d.update(encrypted), d.final()]);
    }
    // RC2 is only in OpenSSL's legacy provider; this safe holds certificates, which are public.
    const bits = pbe.oid === OID.pbeSha1And40Rc2 ? 40 : 128;
    const rc2 = forge.rc2.createDecryptionCipher(forge.util.createBuffer(kdf(1, bits / 8).toString('binary')), bits);
    rc2.start(forge.util.createBuffer(kdf(2, 8).toString('binary')));
    rc2.update(forge.util.createBuffer(encrypted.toString('binary')));
    if (!rc2.finish()) throw new Error('bad padding');
    return Buffer.from(rc2.output.getBytes(), 'binary');
  } catch {
    return fail('the password is wrong (the certificates in the file do not decrypt with it)');
  }
}

function verifyMac(macData: Node, authSafe: Buffer, password: string): void {
  const [digestInfo, salt, iterationsNode] = children(macData, 'MacData');
  const [algorithm, digest] = children(digestInfo, 'MAC DigestInfo');
  const oid = oidOf(children(algorithm, 'MAC algorithm')[0], 'MAC algorithm');
  const md = DIGESTS[oid] ?? fail(`the file's integrity MAC uses an unsupported digest (${oid})`);
  const iterations = iterationsOk(iterationsNode ? integerOf(iterationsNode, 'MAC iteration count') : 1, 'the integrity MAC');
  const expected = octetsOf(digest, 'MAC value');
  const size = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[md];
  const key = pkcs12Kdf(password, octetsOf(salt, 'MAC salt'), 3, iterations, size, md);
  const actual = createHmac(md, key).update(authSafe).digest();
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
    fail('the password is wrong, or the file is damaged (its integrity MAC does not match)');
}

interface Found {
  keys: Buffer[];
  /** EncryptedPrivateKeyInfo DER, to open with the password. */
  shrouded: Buffer[];
  certs: Buffer[];
  bags: number;
}

function readSafeContents(der: Buffer, found: Found, depth: number): void {
  for (const bag of children(parse(der, 'a SafeContents'), 'SafeContents')) {
    if (++found.bags > MAX_BAGS) fail(`the file holds more than ${MAX_BAGS} bags; export only the person's certificate, its key and its chain`);
    const [id, value] = children(bag, 'SafeBag');
    const bagId = oidOf(id, 'SafeBag type');
    const content = explicit(value, 0, 'SafeBag value');
    const toDer = () => Buffer.from(asn1.toDer(content).getBytes(), 'binary');
    if (bagId === OID.keyBag) found.keys.push(toDer());
    else if (bagId === OID.shroudedKeyBag) found.shrouded.push(toDer());
    else if (bagId === OID.certBag) {
      const [certId, certValue] = children(content, 'CertBag');
      if (oidOf(certId, 'CertBag type') === OID.x509Certificate) found.certs.push(octetsOf(explicit(certValue, 0, 'CertBag value'), 'CertBag value'));
    } else if (bagId === OID.safeContentsBag) {
      if (depth >= MAX_NESTING) fail('the file nests bags too deeply');
      readSafeContents(toDer(), found, depth + 1);
    }
    // CRL and secret bags carry nothing a person's credential needs.
  }
}

function openKey(found: Found, password: string): KeyObject {
  const total = found.keys.length + found.shrouded.length;
  if (total === 0) fail('the file holds no private key: export the certificate together with its key (for OpenSSL, pkcs12 -export with -inkey)');
  if (total > 1) fail(`the file holds ${total} private keys; export one person's certificate and its key only`);
  if (found.keys[0]) {
    try {
      return createPrivateKey({ key: found.keys[0], format: 'der', type: 'pkcs8' });
    } catch {
      return fail('the private key in the file cannot be read');
    }
  }
  const der = found.shrouded[0]!;
  const pbe = pbeOf(children(parse(der, 'the encrypted private key'), 'EncryptedPrivateKeyInfo')[0], 'private key');
  if (pbe.kind === 'pkcs12' && (pbe.oid === OID.pbeSha1And40Rc2 || pbe.oid === OID.pbeSha1And128Rc2))
    fail('the private key is encrypted with RC2, which is no longer accepted: export the file again with AES (OpenSSL 3 does by default)');
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase: password });
  } catch {
    return fail('the password is wrong (the private key does not decrypt with it)');
  }
}

/** The key and certificates of a PKCS#12 file; refuses a wrong password, a damaged file, no key or several. */
export function readPkcs12(der: Buffer, password: string): Pkcs12Contents {
  try {
    return read(der, password);
  } catch (err) {
    // The checks above name what they refuse; whatever else a damaged file makes forge or OpenSSL throw is still the file's fault.
    if (err instanceof Pkcs12ReadError) throw err;
    throw new Pkcs12ReadError('the file is not a PKCS#12 file, or it is damaged');
  }
}

function read(der: Buffer, password: string): Pkcs12Contents {
  if (der.length === 0) fail('the PKCS#12 file is empty');
  if (der.length > MAX_PKCS12_BYTES) fail(`the PKCS#12 file is ${der.length} bytes; at most ${MAX_PKCS12_BYTES} are accepted`);
  const [version, authSafeInfo, macData] = children(parse(der, 'the file'), 'PFX');
  if (integerOf(version, 'PFX version') !== 3) fail('the file is not a version 3 PKCS#12 file');
  const [contentType, content] = children(authSafeInfo, 'authSafe');
  if (oidOf(contentType, 'authSafe content type') !== OID.data)
    fail('the file is protected with a public key (not a password), which is not supported: export it with a password');
  const authSafe = octetsOf(explicit(content, 0, 'authSafe content'), 'authSafe content');
  if (macData) verifyMac(macData, authSafe, password);

  const found: Found = { keys: [], shrouded: [], certs: [], bags: 0 };
  for (const info of children(parse(authSafe, 'the AuthenticatedSafe'), 'AuthenticatedSafe')) {
    const [type, value] = children(info, 'ContentInfo');
    const kind = oidOf(type, 'ContentInfo type');
    if (kind === OID.data) {
      readSafeContents(octetsOf(explicit(value, 0, 'data'), 'data'), found, 0);
    } else if (kind === OID.encryptedData) {
      const [, encryptedContentInfo] = children(explicit(value, 0, 'EncryptedData'), 'EncryptedData');
      const [, algorithm, encrypted] = children(encryptedContentInfo, 'EncryptedContentInfo');
      if (!encrypted || encrypted.tagClass !== asn1.Class.CONTEXT_SPECIFIC || encrypted.type !== 0) fail('an encrypted safe of the file is empty');
      readSafeContents(decryptSafe(pbeOf(algorithm, 'certificate safe'), password, octetsOf(encrypted, 'encrypted safe')), found, 0);
    } else {
      fail('a safe of the file is protected with a public key (not the password), which is not supported');
    }
  }
  const key = openKey(found, password);
  const certificates = found.certs.map((c) => {
    try {
      return new X509Certificate(c);
    } catch {
      return fail('a certificate in the file cannot be read');
    }
  });
  return { key, certificates };
}
