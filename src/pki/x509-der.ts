/**
 * DER pieces shared by certificates, CRLs and OCSP responses: serials and
 * integers, X.509 times, extensions, signing a to-be-signed structure, and
 * reading the parts of an issuer certificate that others are identified by.
 */
import { createHash, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { algorithmIdentifier, bitString, bool, octets, oid, parseDer, seq, toDer, type Asn1 } from './asn1.js';
import type { Signer } from './native-signer.js';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;

// ---------------------------------------------------------------------------
// Serial numbers and integers

/**
 * Canonical form of a certificate serial: lower-case hex of the unsigned
 * magnitude, whole bytes, no leading zero bytes (randomSerial()'s format), so
 * serials from forge ("00..."-prefixed), node (upper-case) and OCSP requests
 * compare as plain strings.
 */
export function normalizeSerialHex(hex: string): string {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`serial number is not hex: ${JSON.stringify(hex)}`);
  let s = hex.toLowerCase();
  if (s.length % 2) s = `0${s}`;
  while (s.length > 2 && s.startsWith('00')) s = s.slice(2);
  return s;
}

/** INTEGER content octets as a serial is compared (normalizeSerialHex); '' for empty content. */
export const integerHex = (content: Buffer): string => (content.length ? normalizeSerialHex(content.toString('hex')) : '');

/** DER INTEGER content for a non-negative magnitude: a 00 byte keeps the top bit from reading as a sign. */
function unsignedContent(magnitude: Buffer): Buffer {
  return magnitude[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), magnitude]) : magnitude;
}

/** Positive serial (hex) as a minimal DER INTEGER. */
export function serialInteger(hex: string): Asn1 {
  const magnitude = Buffer.from(normalizeSerialHex(hex), 'hex');
  if (magnitude.length === 1 && magnitude[0] === 0) throw new Error('serial number must be positive (RFC 5280 §4.1.2.2)');
  if (magnitude.length > 20) throw new Error('serial number longer than 20 octets (RFC 5280 §4.1.2.2)');
  return asn1.create(U, asn1.Type.INTEGER, false, unsignedContent(magnitude).toString('binary'));
}

/** Non-negative bigint as a minimal DER INTEGER (asn1.int() is limited to JS numbers). */
export function bigintInteger(n: bigint): Asn1 {
  if (n < 0n) throw new RangeError('integer must be non-negative');
  const hex = n.toString(16);
  const magnitude = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return asn1.create(U, asn1.Type.INTEGER, false, unsignedContent(magnitude).toString('binary'));
}

export const enumerated = (n: number): Asn1 => asn1.create(U, asn1.Type.ENUMERATED, false, asn1.integerToDer(n).getBytes());

// ---------------------------------------------------------------------------
// Times

/** DER times carry whole seconds only; fractional seconds would be a different (non-DER) encoding. */
const wholeSeconds = (d: Date): Date => {
  if (Number.isNaN(d.getTime())) throw new RangeError('invalid date');
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
};

export const generalizedTime = (d: Date): Asn1 => asn1.create(U, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(wholeSeconds(d)));

/**
 * X.509 Time (RFC 5280 §4.1.2.5): UTCTime for 1950-2049, GeneralizedTime
 * otherwise, because UTCTime's two-digit year cannot express anything else.
 */
export function x509Time(d: Date): Asn1 {
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(wholeSeconds(d))) : generalizedTime(d);
}

// ---------------------------------------------------------------------------
// Extensions, signatures

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }; DER omits a FALSE default. */
export function extension(extnId: string, value: Asn1 | Buffer, critical = false): Asn1 {
  const items = [oid(extnId)];
  if (critical) items.push(bool(true));
  items.push(octets(Buffer.isBuffer(value) ? value : toDer(value)));
  return seq(items);
}

/** Signs a to-be-signed structure via the Signer and returns [signatureAlgorithm, signature BIT STRING]. */
export async function signTbs(tbs: Asn1, signer: Signer): Promise<[Asn1, Asn1]> {
  const signature = await signer.sign(toDer(tbs));
  return [algorithmIdentifier(signer.algorithm), bitString(signature)];
}

// ---------------------------------------------------------------------------
// Reading issuer / responder certificates

export interface CertificateParts {
  /** The certificate itself as a forge node (to embed it in other structures). */
  node: Asn1;
  /** subject Name exactly as encoded in the certificate. */
  subject: Asn1;
  subjectDer: Buffer;
  /** subjectPublicKey BIT STRING value without its unused-bits octet: what key hashes are taken over. */
  publicKeyBits: Buffer;
  /** subjectKeyIdentifier extension value, when the certificate has one. */
  subjectKeyId?: Buffer;
  x509: X509Certificate;
}

const kids = (node: Asn1 | undefined, what: string): Asn1[] => {
  if (!node || !Array.isArray(node.value)) throw new Error(`certificate: ${what} is not constructed`);
  return node.value;
};

/**
 * Picks the pieces of a certificate that CRL issuers and OCSP responders are
 * identified by. Refuses anything whose re-encoding differs from the input:
 * names and keys are then guaranteed byte-identical to the certificate's, which
 * is what relying parties hash and compare.
 */
export function certificateParts(der: Buffer): CertificateParts {
  const x509 = new X509Certificate(der); // validates the certificate as OpenSSL sees it
  const node = parseDer(der);
  if (!toDer(node).equals(der)) throw new Error('certificate is not DER encoded');
  const tbs = kids(kids(node, 'Certificate')[0], 'TBSCertificate');
  // version [0] is optional: shift the field positions when it is absent.
  const at = tbs[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC && tbs[0].type === 0 ? 1 : 0;
  const subject = tbs[at + 4];
  const spki = kids(tbs[at + 5], 'SubjectPublicKeyInfo');
  const bits = spki[1];
  if (!subject || !bits || bits.type !== asn1.Type.BITSTRING || typeof bits.value !== 'string' || bits.value.charCodeAt(0) !== 0) {
    throw new Error('certificate: unexpected subject or subjectPublicKey');
  }

  let subjectKeyId: Buffer | undefined;
  const extensions = tbs.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  for (const ext of extensions ? kids(kids(extensions, 'extensions')[0], 'Extensions') : []) {
    const [id, ...rest] = kids(ext, 'Extension');
    if (id && asn1.derToOid(id.value as string) === '2.5.29.14') {
      const value = rest[rest.length - 1]!.value as string; // OCTET STRING { OCTET STRING keyIdentifier }
      const inner = parseDer(Buffer.from(value, 'binary'));
      subjectKeyId = Buffer.from(inner.value as string, 'binary');
    }
  }

  return {
    node,
    subject,
    subjectDer: toDer(subject),
    publicKeyBits: Buffer.from(bits.value.slice(1), 'binary'),
    ...(subjectKeyId && { subjectKeyId }),
    x509,
  };
}

/** A key/certificate mix-up would yield a signature nobody can verify; fail at build time instead. */
export function assertSignerMatches(signer: Signer, cert: CertificateParts, role: string): void {
  if (!cert.x509.publicKey.equals(signer.publicKey)) throw new Error(`${role} certificate does not match the signer's key`);
}

export const sha1 = (data: Buffer): Buffer => createHash('sha1').update(data).digest();
