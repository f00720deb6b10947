/**
 * PKCS#10 certification requests (RFC 2986) as MDMs, SCEP clients and certsrv
 * send them: DER, PEM, or bare base64 of the DER.
 *
 * forge only walks the ASN.1. forge.pki.certificationRequestFromAsn1 is not
 * used: it understands RSA keys only and throws on EC. The key becomes a node
 * KeyObject and the proof-of-possession signature is checked by OpenSSL
 * through node:crypto, never by forge's pure-JS RSA (docs/architecture.md,
 * "Private keys only through node:crypto").
 *
 * Anything malformed surfaces as CsrError, so callers (HTTP, SCEP) can answer
 * "bad request" without guessing which library threw what. The generic PEM and
 * DER readers throw DerError; parseCsr rethrows it as CsrError, message unchanged.
 */
import { verify, type KeyObject } from 'node:crypto';
import { toDer, type Asn1 } from './asn1.js';
import type { NameAttribute, SubjectAltName } from './certificate.js';
import { childSpans, constructed, CONTEXT, DerError, describe, ia5Text, oidOf, primitive, readDer, stringOf, TAG, tlvAt, UNIVERSAL } from './der-reader.js';
import { decodeDerInput, type DerInputKind } from './pem.js';
import { publicKeyFromSpki } from './public-key.js';

/** Thrown by parseCsr for any input it cannot read, and by verifyCsrSignature for algorithms it will not check. */
export class CsrError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CsrError';
  }
}

/** Certificate SANs plus the Microsoft UPN otherName that Windows/Intune requests carry. */
export type CsrSubjectAltName = SubjectAltName | { type: 'upn'; value: string };

export interface RequestedExtension {
  oid: string;
  critical: boolean;
  /** extnValue: the DER of the extension's own value. */
  value: Buffer;
}

export interface ParsedCsr {
  /** The whole request, DER, exactly as received. */
  der: Buffer;
  /** certificationRequestInfo exactly as received: the bytes the signature covers. */
  certificationRequestInfo: Buffer;
  subject: NameAttribute[];
  /** Encoding order, RFC 4514 escaping, e.g. "CN=alice, O=Example"; multi-valued RDNs joined with "+". */
  subjectDn: string;
  publicKey: KeyObject;
  /** subjectPublicKeyInfo exactly as received. */
  publicKeyInfo: Buffer;
  /** node's asymmetricKeyType: 'rsa', 'ec', or e.g. 'ed25519', 'rsa-pss', 'dsa'. */
  keyAlgorithm: 'rsa' | 'ec' | (string & {});
  /** RSA/DSA modulus bits or EC curve bits (521 for P-521); 0 when unknown (EC with explicit parameters). */
  keySize: number;
  /** OpenSSL's curve name as node reports it: prime256v1, secp384r1, secp521r1, ... */
  curve?: string;
  /** e.g. sha256WithRSAEncryption, ecdsa-with-SHA256; the dotted OID when unknown. */
  signatureAlgorithm: string;
  signatureAlgorithmOid: string;
  signature: Buffer;
  /** From the extensionRequest attribute; GeneralName forms other than these are left out (see requestedExtensions). */
  subjectAltNames: CsrSubjectAltName[];
  /** subjectAltName forms requested that are never issued (e.g. "directoryName", "otherName 1.2.3"): a name policy refuses them. */
  otherAltNames: string[];
  challengePassword?: string;
  requestedExtensions: RequestedExtension[];
}

export interface CsrKeyPolicy {
  rsaMinBits: number;
  /** When set, only these exact modulus sizes. */
  rsaAllowedBits?: number[];
  allowEc: boolean;
  /** When set, only these curves; NIST and OpenSSL names both work (P-256 = prime256v1 = secp256r1). */
  ecCurves?: string[];
}

const OID = {
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  // certreq on older Windows puts requested extensions under Microsoft's own attribute.
  msExtensionRequest: '1.3.6.1.4.1.311.2.1.14',
  subjectAltName: '2.5.29.17',
  upn: '1.3.6.1.4.1.311.20.2.3',
};

const NAME_TYPES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

interface SignatureScheme {
  name: string;
  /** Absent: recognised by name, not verified here. */
  verifyWith?: { hash: string; key: 'rsa' | 'ec' };
}

const rsa = (name: string, hash: string): SignatureScheme => ({ name, verifyWith: { hash, key: 'rsa' } });
const ecdsa = (name: string, hash: string): SignatureScheme => ({ name, verifyWith: { hash, key: 'ec' } });

const SIGNATURE_ALGORITHMS: Record<string, SignatureScheme> = {
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption' },
  '1.2.840.113549.1.1.5': rsa('sha1WithRSAEncryption', 'sha1'),
  '1.2.840.113549.1.1.14': rsa('sha224WithRSAEncryption', 'sha224'),
  '1.2.840.113549.1.1.11': rsa('sha256WithRSAEncryption', 'sha256'),
  '1.2.840.113549.1.1.12': rsa('sha384WithRSAEncryption', 'sha384'),
  '1.2.840.113549.1.1.13': rsa('sha512WithRSAEncryption', 'sha512'),
  // PSS parameters (hash, MGF, salt length) would need their own parsing; no MDM we serve sends PSS.
  '1.2.840.113549.1.1.10': { name: 'RSASSA-PSS' },
  '1.2.840.10045.4.1': ecdsa('ecdsa-with-SHA1', 'sha1'),
  '1.2.840.10045.4.3.1': ecdsa('ecdsa-with-SHA224', 'sha224'),
  '1.2.840.10045.4.3.2': ecdsa('ecdsa-with-SHA256', 'sha256'),
  '1.2.840.10045.4.3.3': ecdsa('ecdsa-with-SHA384', 'sha384'),
  '1.2.840.10045.4.3.4': ecdsa('ecdsa-with-SHA512', 'sha512'),
  '1.3.101.112': { name: 'Ed25519' },
  '1.3.101.113': { name: 'Ed448' },
};

/** node reports curves by OpenSSL name and no size; the size is what a key policy talks about. */
const CURVE_BITS: Record<string, number> = {
  prime192v1: 192,
  secp224r1: 224,
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};
const CURVE_ALIASES: Record<string, string> = {
  'p-192': 'prime192v1',
  secp192r1: 'prime192v1',
  'p-224': 'secp224r1',
  'p-256': 'prime256v1',
  secp256r1: 'prime256v1',
  'p-384': 'secp384r1',
  'p-521': 'secp521r1',
};
const canonicalCurve = (name: string): string => (CURVE_ALIASES[name.toLowerCase()] ?? name).toLowerCase();
const OTHER_KEY_BITS: Record<string, number> = { ed25519: 256, ed448: 448, x25519: 256, x448: 448 };

/** A 16384-bit RSA request is under 5 KiB; anything far larger is not a CSR and only costs parse time. */
const MAX_DER_BYTES = 64 * 1024;
const INPUT_KIND: DerInputKind = { pemLabels: ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], what: 'certificate request', maxDerBytes: MAX_DER_BYTES };

// ---------------------------------------------------------------------------
// The request

export function parseCsr(input: Buffer | string): ParsedCsr {
  try {
    return parseDer(decodeDerInput(input, INPUT_KIND));
  } catch (err) {
    if (err instanceof CsrError) throw err;
    if (err instanceof DerError) throw new CsrError(err.message, 'cause' in err ? { cause: err.cause } : undefined);
    // Safety net for the contract "bad input only ever yields CsrError". Every
    // known failure is a CsrError or DerError where it happens; reaching this is
    // a parser bug, hence the distinct wording (the tests look for it).
    throw new CsrError(`could not parse the certificate request (unexpected error: ${messageOf(err)})`, { cause: err });
  }
}

function parseDer(der: Buffer): ParsedCsr {
  if (der.length > MAX_DER_BYTES) throw new CsrError(`certificate request of ${der.length} bytes is too large`);
  if (der[0] !== 0x30) throw new CsrError(`not a certificate request: expected a DER SEQUENCE (0x30), got 0x${hex(der[0])}`);
  const outer = tlvAt(der, 0, der.length);
  if (outer.end < der.length) throw new CsrError(`${der.length - outer.end} bytes of trailing data after the certificate request`);

  const root = readDer(der, 'certificate request');
  const [criNode, algNode, sigNode, ...extra] = constructed(root, TAG.SEQUENCE, 'CertificationRequest');
  if (extra.length) throw new CsrError(`CertificationRequest has ${extra.length + 3} elements, expected 3`);

  const [versionNode, nameNode, spkiNode, attrsNode, ...criExtra] = constructed(criNode, TAG.SEQUENCE, 'certificationRequestInfo');
  // A certificate is the classic wrong upload; its TBSCertificate starts with [0] version.
  if (versionNode?.tagClass === CONTEXT && versionNode.type === 0) throw new CsrError('this is an X.509 certificate, not a certificate request');
  if (criExtra.length) throw new CsrError('certificationRequestInfo has unexpected trailing elements');
  const version = primitive(versionNode, TAG.INTEGER, 'version');
  if (version !== '\x00') throw new CsrError(`unsupported certificate request version (only v1, encoded 0, exists)`);
  constructed(spkiNode, TAG.SEQUENCE, 'subjectPKInfo');

  const algorithm = constructed(algNode, TAG.SEQUENCE, 'signatureAlgorithm');
  const signatureAlgorithmOid = oidOf(algorithm[0], 'signatureAlgorithm');
  const sigBits = primitive(sigNode, TAG.BIT_STRING, 'signature');
  if (sigBits.length < 2 || sigBits.charCodeAt(0) !== 0) throw new CsrError('signature BIT STRING is empty or not a whole number of bytes');

  // forge and tlvAt read lengths identically, so these spans line up with the nodes above.
  const [criSpan] = childSpans(der, outer);
  const spkiSpan = childSpans(der, criSpan!)[2]!;
  const { subject, subjectDn } = parseName(nameNode!);
  const publicKeyInfo = der.subarray(spkiSpan.start, spkiSpan.end);
  const key = parsePublicKey(publicKeyInfo);
  const attributes = parseAttributes(attrsNode);

  return {
    der,
    certificationRequestInfo: der.subarray(criSpan!.start, criSpan!.end),
    subject,
    subjectDn,
    publicKeyInfo,
    ...key,
    signatureAlgorithm: SIGNATURE_ALGORITHMS[signatureAlgorithmOid]?.name ?? signatureAlgorithmOid,
    signatureAlgorithmOid,
    signature: Buffer.from(sigBits.slice(1), 'binary'),
    ...attributes,
  };
}

function parseName(node: Asn1): { subject: NameAttribute[]; subjectDn: string } {
  const rdns = constructed(node, TAG.SEQUENCE, 'subject').map((rdn) =>
    constructed(rdn, TAG.SET, 'subject RDN').map((atv) => {
      const [typeNode, valueNode] = constructed(atv, TAG.SEQUENCE, 'subject attribute');
      const oid = oidOf(typeNode, 'subject attribute type');
      const type = NAME_TYPES[oid] ?? oid;
      if (!valueNode) throw new CsrError(`subject attribute ${type} has no value`);
      const text = stringOf(valueNode, `subject ${type}`);
      if (text !== undefined) return { type, value: text, display: escapeDn(text) };
      // RFC 4514 §2.4: a non-string value is written as # and the hex of its DER.
      const hexDer = `#${toDer(valueNode).toString('hex')}`;
      return { type, value: hexDer, display: hexDer };
    }),
  );
  return {
    subject: rdns.flat().map(({ type, value }) => ({ type, value })),
    subjectDn: rdns.map((rdn) => rdn.map((a) => `${a.type}=${a.display}`).join('+')).join(', '),
  };
}

/** RFC 4514 §2.4 escaping, so a CN containing "," cannot pose as two attributes. */
const escapeDn = (value: string): string =>
  value
    .replace(/[\\,+"<>;=]/g, '\\$&')
    .replace(/\0/g, '\\00')
    .replace(/^[ #]/, '\\$&')
    .replace(/ $/, '\\ ');

function parsePublicKey(spki: Buffer): Pick<ParsedCsr, 'publicKey' | 'keyAlgorithm' | 'keySize' | 'curve'> {
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(spki);
  } catch (err) {
    throw new CsrError(`subjectPKInfo is not a public key OpenSSL can read: ${messageOf(err)}`, { cause: err });
  }
  const keyAlgorithm = publicKey.asymmetricKeyType ?? 'unknown';
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (details.modulusLength !== undefined) return { publicKey, keyAlgorithm, keySize: details.modulusLength };
  if (keyAlgorithm === 'ec') {
    const curve = details.namedCurve;
    // Explicit curve parameters come back without a name; checkKeyPolicy refuses them.
    if (!curve) return { publicKey, keyAlgorithm, keySize: 0 };
    return { publicKey, keyAlgorithm, keySize: CURVE_BITS[curve] ?? Number(/\d{3}/.exec(curve)?.[0] ?? 0), curve };
  }
  return { publicKey, keyAlgorithm, keySize: OTHER_KEY_BITS[keyAlgorithm] ?? 0 };
}

type AttributeFields = Pick<ParsedCsr, 'challengePassword' | 'subjectAltNames' | 'otherAltNames' | 'requestedExtensions'>;

function parseAttributes(node: Asn1 | undefined): AttributeFields {
  const out: AttributeFields = { subjectAltNames: [], otherAltNames: [], requestedExtensions: [] };
  // RFC 2986 makes [0] attributes mandatory, but some encoders omit it when empty.
  if (!node) return out;
  if (node.tagClass !== CONTEXT || node.type !== 0 || !node.constructed || !Array.isArray(node.value)) {
    throw new CsrError(`attributes: expected [0], got ${describe(node)}`);
  }
  let seenChallenge = false;
  for (const attribute of node.value) {
    const [typeNode, valuesNode] = constructed(attribute, TAG.SEQUENCE, 'attribute');
    const type = oidOf(typeNode, 'attribute type');
    const values = constructed(valuesNode, TAG.SET, `attribute ${type} values`);
    if (type === OID.challengePassword) {
      // Two passwords would leave it to chance which one the SCEP check sees.
      if (seenChallenge || values.length !== 1) throw new CsrError('challengePassword must appear once with exactly one value');
      seenChallenge = true;
      const password = stringOf(values[0]!, 'challengePassword');
      if (password === undefined) throw new CsrError(`challengePassword: expected a string, got ${describe(values[0]!)}`);
      out.challengePassword = password;
    } else if (type === OID.extensionRequest || type === OID.msExtensionRequest) {
      if (values.length !== 1) throw new CsrError(`extension request attribute has ${values.length} values, expected 1`);
      for (const ext of parseExtensions(values[0]!)) {
        // RFC 5280 §4.2: one instance per extension; duplicates would let two SAN lists disagree.
        if (out.requestedExtensions.some((e) => e.oid === ext.oid)) throw new CsrError(`extension ${ext.oid} is requested more than once`);
        out.requestedExtensions.push(ext);
        if (ext.oid === OID.subjectAltName) out.subjectAltNames = parseSubjectAltNames(ext.value, out.otherAltNames);
      }
    }
    // Other attributes (unstructuredName, Microsoft OS version / client info, ...) carry nothing we issue from.
  }
  return out;
}

function parseExtensions(node: Asn1): RequestedExtension[] {
  return constructed(node, TAG.SEQUENCE, 'requested extensions').map((ext) => {
    const parts = constructed(ext, TAG.SEQUENCE, 'requested extension');
    const oid = oidOf(parts[0], 'extension id');
    if (parts.length !== 2 && parts.length !== 3) throw new CsrError(`extension ${oid} has ${parts.length} elements, expected 2 or 3`);
    let critical = false;
    if (parts.length === 3) {
      const flag = primitive(parts[1], TAG.BOOLEAN, `extension ${oid} critical flag`);
      if (flag.length !== 1) throw new CsrError(`extension ${oid} critical flag is not a one-byte BOOLEAN`);
      critical = flag !== '\x00';
    }
    const value = primitive(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${oid} value`);
    return { oid, critical, value: Buffer.from(value, 'binary') };
  });
}

const OTHER_GENERAL_NAMES: Record<number, string> = { 3: 'x400Address', 4: 'directoryName', 5: 'ediPartyName', 8: 'registeredID' };

/**
 * A subjectAltName extension value (DER), as requests and certificates
 * carry it. Forms other than the ones returned are named in `others`.
 */
export function parseSubjectAltNames(value: Buffer, others: string[] = []): CsrSubjectAltName[] {
  const names: CsrSubjectAltName[] = [];
  for (const name of constructed(readDer(value, 'subjectAltName extension'), TAG.SEQUENCE, 'subjectAltName')) {
    if (name.tagClass !== CONTEXT) throw new CsrError(`subjectAltName entry: expected a [n] GeneralName, got ${describe(name)}`);
    switch (name.type as number) {
      case 0: {
        const upn = otherNameUpn(name);
        if (upn !== undefined) names.push({ type: 'upn', value: upn });
        else others.push(`otherName ${oidOf((name.value as Asn1[])[0], 'subjectAltName otherName type')}`);
        break;
      }
      case 1:
        names.push({ type: 'email', value: ia5Text(primitive(name, 1, 'subjectAltName rfc822Name', CONTEXT), 'subjectAltName rfc822Name') });
        break;
      case 2:
        names.push({ type: 'dns', value: ia5Text(primitive(name, 2, 'subjectAltName dNSName', CONTEXT), 'subjectAltName dNSName') });
        break;
      case 6:
        names.push({ type: 'uri', value: ia5Text(primitive(name, 6, 'subjectAltName URI', CONTEXT), 'subjectAltName URI') });
        break;
      case 7:
        names.push({ type: 'ip', value: ipText(Buffer.from(primitive(name, 7, 'subjectAltName iPAddress', CONTEXT), 'binary')) });
        break;
      default:
        // x400Address, directoryName, ediPartyName, registeredID: never issued; still in requestedExtensions.
        others.push(OTHER_GENERAL_NAMES[name.type as number] ?? `[${name.type}]`);
    }
  }
  return names;
}

/** otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }, IMPLICIT-tagged [0]; the UPN value is a UTF8String. */
function otherNameUpn(name: Asn1): string | undefined {
  if (!name.constructed || !Array.isArray(name.value)) throw new CsrError('subjectAltName otherName is not constructed');
  const [typeNode, wrapper] = name.value;
  if (oidOf(typeNode, 'subjectAltName otherName type') !== OID.upn) return undefined;
  if (!wrapper || wrapper.tagClass !== CONTEXT || wrapper.type !== 0 || !Array.isArray(wrapper.value) || wrapper.value.length !== 1) {
    throw new CsrError('subjectAltName UPN: expected [0] EXPLICIT value');
  }
  const inner = wrapper.value[0]!;
  if (inner.tagClass !== UNIVERSAL || inner.type !== TAG.UTF8) throw new CsrError(`subjectAltName UPN: expected UTF8String, got ${describe(inner)}`);
  return stringOf(inner, 'subjectAltName UPN');
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
    // The WHATWG URL serialiser compresses IPv6 the RFC 5952 way ("2001:db8::1").
    return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
  }
  throw new CsrError(`subjectAltName iPAddress of ${bytes.length} bytes (expected 4 or 16)`);
}

// ---------------------------------------------------------------------------
// Signature and key policy

/**
 * Proof of possession: the signature over certificationRequestInfo as received.
 * false for a wrong signature (or one made for another key type); CsrError for
 * algorithms not checked here (RSASSA-PSS, EdDSA, MD5, unknown).
 */
export function verifyCsrSignature(csr: ParsedCsr): boolean {
  const scheme = SIGNATURE_ALGORITHMS[csr.signatureAlgorithmOid]?.verifyWith;
  if (!scheme) {
    throw new CsrError(`signature algorithm ${csr.signatureAlgorithm} is not supported; sign with RSA PKCS#1 v1.5 or ECDSA and SHA-1/SHA-2`);
  }
  if (csr.publicKey.asymmetricKeyType !== scheme.key) return false;
  try {
    // OpenSSL through node:crypto; PKCS#1 v1.5 for RSA keys and DER-encoded ECDSA are node's defaults.
    return verify(scheme.hash, csr.certificationRequestInfo, csr.publicKey, csr.signature);
  } catch {
    // OpenSSL reports some malformed signatures (wrong length, bad ECDSA DER) as errors; they are still just invalid.
    return false;
  }
}

/** Why the request's key is refused, or undefined when the policy accepts it. */
export function checkKeyPolicy(csr: ParsedCsr, policy: CsrKeyPolicy): string | undefined {
  switch (csr.keyAlgorithm) {
    case 'rsa': {
      const bits = csr.keySize;
      if (bits < policy.rsaMinBits) return `RSA key of ${bits} bits is too small; at least ${policy.rsaMinBits} required`;
      if (policy.rsaAllowedBits && !policy.rsaAllowedBits.includes(bits)) {
        return `RSA key of ${bits} bits is not allowed; allowed sizes: ${policy.rsaAllowedBits.join(', ')}`;
      }
      // e = 1 makes any "signature" trivially valid; an even e is not an RSA key at all.
      const e = csr.publicKey.asymmetricKeyDetails?.publicExponent;
      if (e !== undefined && (e < 3n || e % 2n === 0n)) return `RSA public exponent ${e} is not allowed`;
      return undefined;
    }
    case 'ec': {
      if (!policy.allowEc) return 'EC keys are not allowed; use RSA';
      // Explicit parameters are how CVE-2020-0601 smuggled a fake curve; only named curves.
      if (!csr.curve) return 'EC key with explicit curve parameters is not allowed; use a named curve';
      const curve = canonicalCurve(csr.curve);
      if (policy.ecCurves && !policy.ecCurves.some((c) => canonicalCurve(c) === curve)) {
        return `EC curve ${csr.curve} is not allowed; allowed curves: ${policy.ecCurves.join(', ')}`;
      }
      return undefined;
    }
    default:
      return `${csr.keyAlgorithm} keys are not allowed; use RSA${policy.allowEc ? ' or EC' : ''}`;
  }
}

const hex = (n: number | undefined): string => (n ?? 0).toString(16).padStart(2, '0');
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
