/**
 * Builds X.509 v3 certificates: forge's ASN.1 encodes the structure, the
 * Signer (OpenSSL, off the event loop) signs it. Keys enter as node
 * KeyObjects in SubjectPublicKeyInfo form, so RSA and EC keys are handled
 * alike and no key ever becomes a forge object.
 */
import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { algorithmIdentifier, bitString, bool, derSequence, explicit, implicitOctets, int, octets, seq, tlv, toDer, type Asn1 } from './asn1.js';
import { childSpans, tlvAt } from './der-reader.js';
import { extendedKeyUsage, subjectAltName, type AltName, type RawExtension } from './extensions.js';
import { encodeName, type NameAttribute } from './names.js';
import type { Signer } from './native-signer.js';
import { certificatePem } from './pem.js';
import { spkiOf } from './public-key.js';
import { certificateParts, extension, serialInteger, sha1, x509Time } from './x509-der.js';

export type { NameAttribute } from './names.js';
export type SubjectAltName = AltName;

export type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

export interface CertificateSpec {
  subject: NameAttribute[];
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Omit for self-signed. */
  issuer?: { cert: Buffer };
  signer: Signer;
  ca?: { pathLength?: number };
  keyUsage?: Partial<Record<KeyUsageName, boolean>>;
  /** Extended key usage names (serverAuth, clientAuth, emailProtection, smartcardLogon, ...) or OIDs. */
  extendedKeyUsage?: string[];
  subjectAltNames?: SubjectAltName[];
  /** Pre-encoded extensions (CRL distribution points, AIA, ...). */
  extraExtensions?: RawExtension[];
  serialNumber?: string;
}

export interface SignedCertificate {
  der: Buffer;
  pem: string;
  serialNumber: string;
  /** Parsed on first use: OpenSSL 3.0 takes ~0.3 ms to parse one (mostly decoding its public key), which issuance does not need. */
  readonly x509: X509Certificate;
}

/** 16 random bytes, first byte 0x01-0x7f: positive and minimally DER-encoded. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

const KEY_USAGE_BITS: Record<KeyUsageName, number> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

/** KeyUsage as a DER named-bit BIT STRING: trailing zero bits dropped and counted as unused. */
function keyUsageBits(usage: Partial<Record<KeyUsageName, boolean>>): Asn1 {
  const bits = Object.entries(usage)
    .filter(([, on]) => on)
    .map(([name]) => KEY_USAGE_BITS[name as KeyUsageName]);
  if (bits.length === 0) throw new Error('keyUsage needs at least one usage');
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (highest & 7);
  return forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.BITSTRING, false, String.fromCharCode(unused) + bytes.toString('binary'));
}

interface IssuerInfo {
  /** The issuer's subject Name, as its certificate encodes it. */
  name: Buffer;
  keyId: Buffer;
}

// Issuers are few and long-lived (CA certificates); X509Certificate#raw returns the same Buffer each time.
const issuers = new WeakMap<Buffer, IssuerInfo>();

function issuerInfo(der: Buffer): IssuerInfo {
  let info = issuers.get(der);
  if (!info) {
    const parts = certificateParts(der);
    info = { name: parts.subjectDer, keyId: parts.subjectKeyId ?? sha1(parts.publicKeyBits) };
    issuers.set(der, info);
  }
  return info;
}

/** The subjectPublicKey BIT STRING's bytes: what RFC 5280 §4.2.1.2 method 1 hashes into the key identifier. */
function publicKeyBits(spki: Buffer): Buffer {
  const [, bits] = childSpans(spki, tlvAt(spki, 0, spki.length));
  if (!bits || spki[bits.start] !== 0x03) throw new Error('SubjectPublicKeyInfo without a BIT STRING');
  return spki.subarray(bits.contentStart + 1, bits.end);
}

const VERSION_3 = toDer(explicit(0, int(2)));
const ALGORITHMS = new WeakMap<Signer['algorithm'], Buffer>();
const algorithmDer = (a: Signer['algorithm']): Buffer => {
  let der = ALGORITHMS.get(a);
  if (!der) {
    der = toDer(algorithmIdentifier(a));
    ALGORITHMS.set(a, der);
  }
  return der;
};

export async function buildCertificate(spec: CertificateSpec): Promise<SignedCertificate> {
  const serialNumber = spec.serialNumber ?? randomSerial();
  const spki = spkiOf(spec.publicKey);
  const subjectKeyId = sha1(publicKeyBits(spki));
  const subject = toDer(encodeName(spec.subject));
  const issuer = spec.issuer ? issuerInfo(spec.issuer.cert) : { name: subject, keyId: subjectKeyId };

  const basicConstraints = spec.ca ? [bool(true), ...(spec.ca.pathLength !== undefined ? [int(spec.ca.pathLength)] : [])] : [];
  const extensions = [
    extension('2.5.29.14', octets(subjectKeyId)),
    extension('2.5.29.35', seq([implicitOctets(0, issuer.keyId)])),
    extension('2.5.29.19', seq(basicConstraints), true),
  ];
  if (spec.keyUsage) extensions.push(extension('2.5.29.15', keyUsageBits(spec.keyUsage), true));
  // RFC 5280: with an empty subject the SAN must be critical.
  const raw = [
    ...(spec.extendedKeyUsage?.length ? [extendedKeyUsage(spec.extendedKeyUsage)] : []),
    ...(spec.subjectAltNames?.length ? [subjectAltName(spec.subjectAltNames, spec.subject.length === 0)] : []),
    ...(spec.extraExtensions ?? []),
  ];
  for (const e of raw) extensions.push(extension(e.oid, e.value, e.critical));

  // The names and the key go in as the bytes they are.
  const algorithm = algorithmDer(spec.signer.algorithm);
  const tbs = derSequence([
    VERSION_3,
    toDer(serialInteger(serialNumber)),
    algorithm,
    issuer.name,
    toDer(seq([x509Time(spec.notBefore), x509Time(spec.notAfter)])),
    subject,
    spki,
    tlv(0xa3, [derSequence(extensions.map(toDer))]),
  ]);
  const signature = await spec.signer.sign(tbs);
  const certificate = derSequence([tbs, algorithm, toDer(bitString(signature))]);
  let x509: X509Certificate | undefined;
  return {
    der: certificate,
    pem: certificatePem(certificate),
    serialNumber,
    get x509() {
      x509 ??= new X509Certificate(certificate);
      return x509;
    },
  };
}
