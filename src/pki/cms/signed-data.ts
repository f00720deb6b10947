/**
 * CMS SignedData (RFC 5652 §5) as SCEP and Apple profiles use it: one or
 * more signers with signed attributes, content attached. Reading checks
 * every field; signatures are verified and made by OpenSSL (node:crypto),
 * forge encodes the small parts and certificates go in as their own bytes.
 */
import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { algorithmIdentifier, derOctets, derOid, int, nul, octets, oid, seq, set, tlv, toDer, type Asn1 } from '../asn1.js';
import { childSpans, constructed, CONTEXT, DerError, oidOf, primitive, readDer, TAG, tlvAt } from '../der-reader.js';
import type { Signer } from '../native-signer.js';
import { publicKeyFromSpki } from '../public-key.js';
import { bigintInteger, integerHex, x509Time } from '../x509-der.js';

export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
};

const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};
const DIGEST_OIDS = Object.fromEntries(Object.entries(DIGESTS).map(([o, name]) => [name, o]));

/** Signature algorithms a signer may name: plain rsaEncryption (common in SCEP) or the hash-specific ones. */
const SIGNATURE_KINDS: Record<string, 'rsa' | 'ec'> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.5': 'rsa',
  '1.2.840.113549.1.1.11': 'rsa',
  '1.2.840.113549.1.1.12': 'rsa',
  '1.2.840.113549.1.1.13': 'rsa',
  '1.2.840.113549.1.1.14': 'rsa',
  '1.2.840.10045.4.1': 'ec',
  '1.2.840.10045.4.3.2': 'ec',
  '1.2.840.10045.4.3.3': 'ec',
  '1.2.840.10045.4.3.4': 'ec',
};

export class CmsError extends Error {}

export interface SignerInfo {
  /** DER of the issuer Name and the serial (lower-case hex) that identify the signer's certificate. */
  issuer: Buffer;
  serial: string;
  digest: string;
  signatureAlgorithm: string;
  signature: Buffer;
  /** Signed attributes by OID, each the list of its values (forge nodes). */
  attributes: Map<string, Asn1[]>;
  /** DER of the signed attributes as a SET, which is what the signature covers. */
  signedAttributesDer: Buffer;
}

export interface SignedData {
  contentType: string;
  /** Absent for certs-only (degenerate) SignedData. */
  content?: Buffer;
  certificates: Buffer[];
  signers: SignerInfo[];
}

const hexOfInteger = (bytes: string): string => integerHex(Buffer.from(bytes, 'binary'));

/** ContentInfo → SignedData. Throws CmsError naming the broken field. */
export function parseSignedData(der: Buffer): SignedData {
  try {
    return readSignedData(der);
  } catch (err) {
    if (err instanceof DerError) throw new CmsError(err.message);
    throw err;
  }
}

function readSignedData(der: Buffer): SignedData {
  const root = readDer(der, 'ContentInfo');
  if (!toDer(root).equals(der)) throw new CmsError('ContentInfo is not DER encoded');
  const [type, wrapped] = constructed(root, TAG.SEQUENCE, 'ContentInfo');
  if (oidOf(type, 'contentType') !== CMS_OID.signedData) throw new CmsError('ContentInfo does not hold SignedData');
  const body = explicitChild(wrapped, 0, 'content');
  const fields = constructed(body, TAG.SEQUENCE, 'SignedData');
  let i = 1; // version, digestAlgorithms
  constructed(fields[i++], TAG.SET, 'digestAlgorithms');
  const [innerType, innerWrapped] = constructed(fields[i++], TAG.SEQUENCE, 'encapContentInfo');
  const contentType = oidOf(innerType, 'eContentType');
  let content: Buffer | undefined;
  if (innerWrapped) content = Buffer.from(primitive(explicitChild(innerWrapped, 0, 'eContent'), TAG.OCTET_STRING, 'eContent'), 'binary');

  const certificates: Buffer[] = [];
  if (fields[i]?.tagClass === CONTEXT && fields[i]!.type === 0) {
    const certs = fields[i]!.value;
    if (!Array.isArray(certs)) throw new CmsError('certificates: expected a constructed [0]');
    for (const c of certs) certificates.push(toDer(c));
    i++;
  }
  if (fields[i]?.tagClass === CONTEXT && fields[i]!.type === 1) i++; // CRLs: not used
  const signers = constructed(fields[i], TAG.SET, 'signerInfos').map((s, n) => readSignerInfo(s, `signerInfos[${n}]`));
  return { contentType, ...(content && { content }), certificates, signers };
}

function explicitChild(node: Asn1 | undefined, tag: number, what: string): Asn1 {
  if (!node || node.tagClass !== CONTEXT || node.type !== tag || !node.constructed || !Array.isArray(node.value) || node.value.length !== 1) {
    throw new CmsError(`${what}: expected [${tag}] EXPLICIT`);
  }
  return node.value[0]!;
}

function readSignerInfo(node: Asn1, what: string): SignerInfo {
  const f = constructed(node, TAG.SEQUENCE, what);
  const sid = constructed(f[1], TAG.SEQUENCE, `${what}.sid (issuerAndSerialNumber)`);
  if (!sid[0]) throw new CmsError(`${what}.sid: issuer is missing`);
  const issuer = toDer(sid[0]);
  const serial = hexOfInteger(primitive(sid[1], TAG.INTEGER, `${what}.sid.serialNumber`));
  const digestOid = oidOf(constructed(f[2], TAG.SEQUENCE, `${what}.digestAlgorithm`)[0], `${what}.digestAlgorithm`);
  const digest = DIGESTS[digestOid];
  if (!digest) throw new CmsError(`${what}: unsupported digest algorithm ${digestOid}`);
  const signed = f[3];
  if (!signed || signed.tagClass !== CONTEXT || signed.type !== 0 || !Array.isArray(signed.value))
    throw new CmsError(`${what}: signed attributes are required`);
  const attributes = new Map<string, Asn1[]>();
  for (const [n, attr] of (signed.value as Asn1[]).entries()) {
    const [id, values] = constructed(attr, TAG.SEQUENCE, `${what}.signedAttrs[${n}]`);
    const key = oidOf(id, `${what}.signedAttrs[${n}].attrType`);
    if (attributes.has(key)) throw new CmsError(`${what}: signed attribute ${key} appears twice`);
    attributes.set(key, constructed(values, TAG.SET, `${what}.signedAttrs[${n}].attrValues`));
  }
  const signedAttributesDer = toDer(signed);
  signedAttributesDer[0] = 0x31; // signed over as SET OF, not as [0] IMPLICIT (RFC 5652 §5.4)
  const signatureAlgorithm = oidOf(constructed(f[4], TAG.SEQUENCE, `${what}.signatureAlgorithm`)[0], `${what}.signatureAlgorithm`);
  const signature = Buffer.from(primitive(f[5], TAG.OCTET_STRING, `${what}.signature`), 'binary');
  return { issuer, serial, digest, signatureAlgorithm, signature, attributes, signedAttributesDer };
}

/**
 * A certificate carried in a CMS message, read only as far as CMS needs it:
 * who it is (issuer and serial) and its public key. OpenSSL parses the whole
 * certificate (~130 µs) only when x509() is asked, e.g. to check a renewal.
 */
export class CarriedCertificate {
  private openssl: X509Certificate | null | undefined;

  private constructor(
    readonly raw: Buffer,
    readonly issuer: Buffer,
    readonly serial: string,
    readonly publicKey: KeyObject,
  ) {}

  /** undefined when `der` is not a certificate whose identity and key can be read. */
  static read(der: Buffer): CarriedCertificate | undefined {
    const id = certificateIdentity(der);
    if (!id) return undefined;
    try {
      return new CarriedCertificate(der, id.issuer, id.serial, publicKeyFromSpki(id.spki));
    } catch {
      return undefined; // names a key OpenSSL cannot read
    }
  }

  /** The certificate as OpenSSL reads it; undefined when OpenSSL cannot. */
  x509(): X509Certificate | undefined {
    if (this.openssl === undefined) {
      try {
        this.openssl = new X509Certificate(this.raw);
      } catch {
        this.openssl = null;
      }
    }
    return this.openssl ?? undefined;
  }
}

/** The certificate among `certs` that a SignerInfo names, or undefined. */
export function signerCertificate(signer: SignerInfo, certs: Buffer[]): CarriedCertificate | undefined {
  for (const der of certs) {
    const id = certificateIdentity(der);
    if (id && id.serial === signer.serial && id.issuer.equals(signer.issuer)) return CarriedCertificate.read(der);
  }
  return undefined;
}

/**
 * issuer Name DER, serial hex and SubjectPublicKeyInfo DER of a certificate,
 * read from the bytes as they are (no re-encoding, no full parse).
 */
export function certificateIdentity(der: Buffer): { issuer: Buffer; serial: string; spki: Buffer } | undefined {
  try {
    const certificate = tlvAt(der, 0, der.length);
    if (der[0] !== 0x30 || certificate.end !== der.length) return undefined;
    const [tbs] = childSpans(der, certificate);
    if (!tbs || der[tbs.start] !== 0x30) return undefined;
    const fields = childSpans(der, tbs);
    const at = der[fields[0]?.start ?? 0] === 0xa0 ? 1 : 0; // version [0] is optional
    const [serial, , issuer, , , spki] = fields.slice(at);
    if (!serial || !issuer || !spki || der[serial.start] !== 0x02 || der[issuer.start] !== 0x30 || der[spki.start] !== 0x30) return undefined;
    return {
      serial: integerHex(der.subarray(serial.contentStart, serial.end)),
      issuer: der.subarray(issuer.start, issuer.end),
      spki: der.subarray(spki.start, spki.end),
    };
  } catch {
    return undefined;
  }
}

/**
 * Checks that `signer` signed `content` with the key of `cert`: the
 * messageDigest attribute matches the content and the signature over the
 * signed attributes verifies. Says nothing about whether cert is trusted.
 */
export function verifySigner(sd: SignedData, signer: SignerInfo, cert: { publicKey: KeyObject }): boolean {
  const [digestValue] = signer.attributes.get(CMS_OID.messageDigest) ?? [];
  const [typeValue] = signer.attributes.get(CMS_OID.contentType) ?? [];
  if (!digestValue || !typeValue || sd.content === undefined) return false;
  try {
    const kind = SIGNATURE_KINDS[signer.signatureAlgorithm];
    if (!kind || kind !== (cert.publicKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa')) return false;
    if (oidOf(typeValue, 'contentType attribute') !== sd.contentType) return false;
    const expected = createHash(signer.digest).update(sd.content).digest();
    if (!Buffer.from(primitive(digestValue, TAG.OCTET_STRING, 'messageDigest'), 'binary').equals(expected)) return false;
    return verify(signer.digest, signer.signedAttributesDer, cert.publicKey, signer.signature);
  } catch {
    // A malformed attribute value or public key: not a valid signature either way.
    return false;
  }
}

export interface SignInput {
  /** Omitted: no eContent, and messageDigest covers the empty string. */
  content?: Buffer;
  contentType?: string;
  signer: Signer;
  /** DER of the certificate of signer's key. */
  signerCert: Buffer;
  /** Further certificates to carry (chain), DER. */
  certificates?: Buffer[];
  /** Extra signed attributes: [oid, values]. */
  attributes?: [string, Asn1[]][];
  signingTime?: Date;
}

const attribute = (id: string, values: Asn1[]): Asn1 => seq([oid(id), set(values)]);

const VERSION_1 = toDer(int(1));
const EMPTY_SET = tlv(0x31, []);
const DIGEST_ALGORITHMS = new Map<string, Buffer>();
/** DigestAlgorithmIdentifier with NULL parameters, encoded once per digest. */
function digestAlgorithm(digest: string): Buffer {
  let der = DIGEST_ALGORITHMS.get(digest);
  if (!der) {
    der = toDer(seq([oid(DIGEST_OIDS[digest]!), nul()]));
    DIGEST_ALGORITHMS.set(digest, der);
  }
  return der;
}

/**
 * Attached-content SignedData with one signer (issuerAndSerialNumber), as
 * ContentInfo DER. Certificates and the signer's issuer name go in as the
 * bytes they are.
 */
export async function buildSignedData(input: SignInput): Promise<Buffer> {
  const digest = input.signer.digest;
  const contentType = input.contentType ?? CMS_OID.data;
  const identity = certificateIdentity(input.signerCert);
  if (!identity) throw new Error('signer certificate is not a readable X.509 certificate');
  const attrs = [
    attribute(CMS_OID.contentType, [oid(contentType)]),
    attribute(CMS_OID.signingTime, [x509Time(input.signingTime ?? new Date())]),
    attribute(CMS_OID.messageDigest, [
      octets(
        createHash(digest)
          .update(input.content ?? Buffer.alloc(0))
          .digest(),
      ),
    ]),
    ...(input.attributes ?? []).map(([id, values]) => attribute(id, values)),
  ];
  // DER SET OF: members sorted by their encodings. The signature covers them as a SET; the SignerInfo carries them as [0] IMPLICIT.
  const encoded = attrs.map(toDer).sort(Buffer.compare);
  const signature = await input.signer.sign(tlv(0x31, encoded));

  const signerInfo = tlv(0x30, [
    VERSION_1,
    tlv(0x30, [identity.issuer, toDer(bigintInteger(BigInt(`0x${identity.serial}`)))]),
    digestAlgorithm(digest),
    tlv(0xa0, encoded),
    toDer(algorithmIdentifier(input.signer.algorithm)),
    derOctets(signature),
  ]);
  const certs = [input.signerCert, ...(input.certificates ?? []).filter((c) => !c.equals(input.signerCert))];
  const signedData = tlv(0x30, [
    VERSION_1,
    tlv(0x31, [digestAlgorithm(digest)]),
    tlv(0x30, input.content ? [derOid(contentType), tlv(0xa0, [derOctets(input.content)])] : [derOid(contentType)]),
    tlv(0xa0, certs),
    tlv(0x31, [signerInfo]),
  ]);
  return tlv(0x30, [derOid(CMS_OID.signedData), tlv(0xa0, [signedData])]);
}

/** Degenerate ("certs-only") SignedData: how SCEP hands out CA + RA certificates, issued certificates and CRLs. */
export function certsOnly(certs: Buffer[], crls: Buffer[] = []): Buffer {
  const signedData = tlv(0x30, [
    VERSION_1,
    EMPTY_SET,
    tlv(0x30, [derOid(CMS_OID.data)]),
    ...(certs.length ? [tlv(0xa0, certs)] : []),
    ...(crls.length ? [tlv(0xa1, crls)] : []),
    EMPTY_SET,
  ]);
  return tlv(0x30, [derOid(CMS_OID.signedData), tlv(0xa0, [signedData])]);
}
