/**
 * PKCS#10 certification requests (RFC 2986) as MDMs, SCEP clients and certsrv
 * send them: DER, PEM, or bare base64 of the DER.
 *
 * forge only walks the ASN.1. forge.pki.certificationRequestFromAsn1 is not
 * used: it understands RSA keys only and throws on EC. Per DESIGN.md the key
 * becomes a node KeyObject and the proof-of-possession signature is checked by
 * OpenSSL through node:crypto, never by forge's pure-JS RSA.
 *
 * Anything malformed surfaces as CsrError, so callers (HTTP, SCEP) can answer
 * "bad request" without guessing which library threw what.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { toDer, type Asn1 } from './asn1.js';
import type { NameAttribute, SubjectAltName } from './certificate.js';

const { asn1 } = forge;

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
  challengePassword?: string;
  requestedExtensions: RequestedExtension[];
}

export interface KeyPolicy {
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

const PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];
/** A 16384-bit RSA request is under 5 KiB; anything far larger is not a CSR and only costs parse time. */
const MAX_DER_BYTES = 64 * 1024;

// Universal tag numbers (X.680) used below.
const TAG = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  OID: 6,
  UTF8: 12,
  SEQUENCE: 16,
  SET: 17,
  NUMERIC: 18,
  PRINTABLE: 19,
  T61: 20,
  IA5: 22,
  GRAPHIC: 25,
  VISIBLE: 26,
  GENERAL: 27,
  UNIVERSAL: 28,
  BMP: 30,
} as const;
const TAG_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TAG).map(([name, n]) => [n, name.replace('_', ' ')]));

// ---------------------------------------------------------------------------
// Input: DER, PEM or bare base64

function decodeInput(input: Buffer | string): Buffer {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new CsrError('expected the certificate request as a Buffer or a string');
  const bytes = typeof input === 'string' ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // 0x30 (SEQUENCE) cannot begin PEM or base64 text (that starts with "-" or "M"), so it means binary DER.
  if (bytes?.[0] === 0x30) return bytes;
  if (bytes && bytes.length > 2 * MAX_DER_BYTES) throw new CsrError(`input of ${bytes.length} bytes is too large for a certificate request`);
  // A byte-order mark (as UTF-16 text, or UTF-8 bytes read as Latin-1) is editor noise, not content.
  const text = (bytes ? bytes.toString('latin1') : (input as string)).replace(/^(\uFEFF|\xEF\xBB\xBF)/, '').trim();
  if (text === '') throw new CsrError('empty input: no certificate request');
  if (text.length > 2 * MAX_DER_BYTES) throw new CsrError(`input of ${text.length} characters is too large for a certificate request`);
  return text.includes('-----') ? fromPem(text) : fromBase64(text, 'input');
}

function fromPem(text: string): Buffer {
  // Only whitespace around the one block: a stray second block or appended text
  // is more likely a client bug (or smuggling) than RFC 7468 "explanatory text".
  if (!text.startsWith('-----BEGIN ')) throw new CsrError('unexpected text before the PEM "-----BEGIN" line');
  const m = /^-----BEGIN ([^\r\n-]*)-----([\s\S]*?)-----END ([^\r\n-]*)-----/.exec(text);
  if (!m) throw new CsrError('PEM block is truncated: no "-----END" line');
  const [block, label = '', body = '', endLabel = ''] = m;
  if (label !== endLabel) throw new CsrError(`PEM BEGIN label "${label}" does not match END label "${endLabel}"`);
  if (!PEM_LABELS.includes(label)) throw new CsrError(`expected a PEM "CERTIFICATE REQUEST", got "${label}"`);
  if (text.slice(block.length).trim() !== '') throw new CsrError('unexpected data after the PEM "-----END" line');
  if (body.includes(':')) throw new CsrError('PEM headers (e.g. Proc-Type) are not allowed in a certificate request');
  return fromBase64(body, 'PEM body');
}

function fromBase64(text: string, what: string): Buffer {
  const b64 = text.replace(/\s+/g, '');
  if (b64 === '') throw new CsrError(`${what} is empty`);
  // Buffer.from(_, 'base64') silently skips invalid characters; a CSR with junk in it must not half-decode.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1 || (b64.endsWith('=') && b64.length % 4 !== 0)) {
    throw new CsrError(what === 'input' ? 'input is neither DER, PEM nor base64' : `${what} is not valid base64`);
  }
  const der = Buffer.from(b64, 'base64');
  if (der[0] !== 0x30) throw new CsrError(`${what} decodes from base64 but is not a DER certificate request (first byte 0x${hex(der[0])}, expected 0x30)`);
  return der;
}

// ---------------------------------------------------------------------------
// Raw TLV spans. forge keeps no byte offsets, and the signature must be checked
// over certificationRequestInfo as received: re-encoding it with forge would
// normalise e.g. non-minimal lengths and break valid signatures.

interface Span {
  start: number;
  contentStart: number;
  end: number;
}

function tlvAt(der: Buffer, offset: number, limit: number): Span {
  if (offset + 2 > limit) throw new CsrError(`truncated: ASN.1 header at byte ${offset} is cut off`);
  const first = der[offset + 1]!;
  let length = first;
  let header = 2;
  if (first === 0x80) throw new CsrError(`indefinite-length (BER) encoding at byte ${offset} is not DER`);
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4) throw new CsrError(`ASN.1 length at byte ${offset} uses ${n} length bytes`);
    if (offset + 2 + n > limit) throw new CsrError(`truncated: ASN.1 length at byte ${offset} is cut off`);
    length = der.readUIntBE(offset + 2, n);
    header += n;
  }
  const end = offset + header + length;
  if (end > limit) throw new CsrError(`truncated: value at byte ${offset} needs ${length} bytes, only ${limit - offset - header} present`);
  return { start: offset, contentStart: offset + header, end };
}

function childSpans(der: Buffer, parent: Span): Span[] {
  const spans: Span[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const span = tlvAt(der, at, parent.end);
    spans.push(span);
    at = span.end;
  }
  return spans;
}

// ---------------------------------------------------------------------------
// ASN.1 reading on forge nodes, every mismatch a CsrError naming the field.

type FromDer = (bytes: forge.util.ByteBuffer, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;
// @types/node-forge omits the options form. decodeBitStrings must be off: forge
// otherwise tries to read BIT STRING contents (signature, key) as nested ASN.1.
const forgeFromDer = asn1.fromDer as unknown as FromDer;

function readDer(der: Buffer, what: string): Asn1 {
  try {
    return forgeFromDer(forge.util.createBuffer(der.toString('binary')), { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (err) {
    throw new CsrError(`${what} is not valid DER: ${messageOf(err)}`, { cause: err });
  }
}

const UNIVERSAL = asn1.Class.UNIVERSAL;
const CONTEXT = asn1.Class.CONTEXT_SPECIFIC;

const CLASS_NAMES: Record<number, string> = { [asn1.Class.APPLICATION]: 'APPLICATION', [asn1.Class.PRIVATE]: 'PRIVATE' };

function describe(node: Asn1): string {
  const form = node.constructed ? 'constructed' : 'primitive';
  if (node.tagClass === CONTEXT) return `${form} [${node.type}]`;
  if (node.tagClass === UNIVERSAL) return `${form} ${TAG_NAMES[node.type] ?? `universal tag ${node.type}`}`;
  return `${form} [${CLASS_NAMES[node.tagClass]} ${node.type}]`;
}

/** A constructed universal node of `type` (SEQUENCE, SET); returns its children. */
function constructed(node: Asn1 | undefined, type: number, what: string): Asn1[] {
  if (!node) throw new CsrError(`${what} is missing`);
  if (node.tagClass !== UNIVERSAL || node.type !== type || !node.constructed || !Array.isArray(node.value)) {
    throw new CsrError(`${what}: expected constructed ${TAG_NAMES[type]}, got ${describe(node)}`);
  }
  return node.value;
}

/** The content octets of a primitive node, as forge's binary string. */
function primitive(node: Asn1 | undefined, type: number, what: string, tagClass: number = UNIVERSAL): string {
  if (!node) throw new CsrError(`${what} is missing`);
  if (node.tagClass !== tagClass || node.type !== type || node.constructed || typeof node.value !== 'string') {
    const expected = tagClass === CONTEXT ? `[${type}]` : TAG_NAMES[type];
    throw new CsrError(`${what}: expected primitive ${expected}, got ${describe(node)}`);
  }
  return node.value;
}

function oidOf(node: Asn1 | undefined, what: string): string {
  const bytes = primitive(node, TAG.OID, what);
  // forge returns a partial OID for a truncated last arc instead of failing.
  if (bytes.length === 0 || bytes.charCodeAt(bytes.length - 1) & 0x80) throw new CsrError(`${what}: malformed OBJECT IDENTIFIER`);
  try {
    return asn1.derToOid(bytes);
  } catch (err) {
    throw new CsrError(`${what}: malformed OBJECT IDENTIFIER: ${messageOf(err)}`, { cause: err });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** DirectoryString and the other string types names use; undefined for non-string values. */
function stringOf(node: Asn1, what: string): string | undefined {
  if (node.tagClass !== UNIVERSAL || node.constructed || typeof node.value !== 'string') return undefined;
  const raw = node.value;
  switch (node.type as number) {
    case TAG.UTF8:
      try {
        return utf8.decode(Buffer.from(raw, 'binary'));
      } catch {
        throw new CsrError(`${what}: UTF8String is not valid UTF-8`);
      }
    case TAG.BMP:
      return raw; // forge has already decoded UCS-2 into a JS string
    case TAG.UNIVERSAL: {
      const buf = Buffer.from(raw, 'binary');
      if (buf.length % 4) throw new CsrError(`${what}: UniversalString of ${buf.length} bytes is not UCS-4`);
      const codePoints = Array.from({ length: buf.length / 4 }, (_, i) => buf.readUInt32BE(i * 4));
      if (codePoints.some((c) => c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))) throw new CsrError(`${what}: UniversalString holds an invalid code point`);
      return String.fromCodePoint(...codePoints);
    }
    case TAG.PRINTABLE:
    case TAG.IA5:
    case TAG.NUMERIC:
    case TAG.VISIBLE:
    // T.61 is not Latin-1, but real requests only use its ASCII subset, where they agree.
    case TAG.T61:
    case TAG.GRAPHIC:
    case TAG.GENERAL:
      return raw; // binary string = Latin-1
    default:
      return undefined;
  }
}

/** IA5 (ASCII) content of an IMPLICIT-tagged GeneralName. */
function ia5(raw: string, what: string): string {
  if (/[^\x00-\x7f]/.test(raw)) throw new CsrError(`${what} is not ASCII (IA5String)`);
  return raw;
}

// ---------------------------------------------------------------------------
// The request

export function parseCsr(input: Buffer | string): ParsedCsr {
  try {
    return parseDer(decodeInput(input));
  } catch (err) {
    if (err instanceof CsrError) throw err;
    // Safety net for the contract "bad input only ever yields CsrError". Every
    // known failure is converted where it happens; reaching this is a parser bug,
    // hence the distinct wording (the tests look for it).
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
  const key = parsePublicKey(der.subarray(spkiSpan.start, spkiSpan.end));
  const attributes = parseAttributes(attrsNode);

  return {
    der,
    certificationRequestInfo: der.subarray(criSpan!.start, criSpan!.end),
    subject,
    subjectDn,
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
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
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

function parseAttributes(node: Asn1 | undefined): Pick<ParsedCsr, 'challengePassword' | 'subjectAltNames' | 'requestedExtensions'> {
  const out: Pick<ParsedCsr, 'challengePassword' | 'subjectAltNames' | 'requestedExtensions'> = { subjectAltNames: [], requestedExtensions: [] };
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
        if (ext.oid === OID.subjectAltName) out.subjectAltNames = parseSubjectAltNames(ext.value);
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

function parseSubjectAltNames(value: Buffer): CsrSubjectAltName[] {
  const names: CsrSubjectAltName[] = [];
  for (const name of constructed(readDer(value, 'subjectAltName extension'), TAG.SEQUENCE, 'subjectAltName')) {
    if (name.tagClass !== CONTEXT) throw new CsrError(`subjectAltName entry: expected a [n] GeneralName, got ${describe(name)}`);
    switch (name.type as number) {
      case 0: {
        const upn = otherNameUpn(name);
        if (upn !== undefined) names.push({ type: 'upn', value: upn });
        break;
      }
      case 1:
        names.push({ type: 'email', value: ia5(primitive(name, 1, 'subjectAltName rfc822Name', CONTEXT), 'subjectAltName rfc822Name') });
        break;
      case 2:
        names.push({ type: 'dns', value: ia5(primitive(name, 2, 'subjectAltName dNSName', CONTEXT), 'subjectAltName dNSName') });
        break;
      case 6:
        names.push({ type: 'uri', value: ia5(primitive(name, 6, 'subjectAltName URI', CONTEXT), 'subjectAltName URI') });
        break;
      case 7:
        names.push({ type: 'ip', value: ipText(Buffer.from(primitive(name, 7, 'subjectAltName iPAddress', CONTEXT), 'binary')) });
        break;
      // x400Address, directoryName, ediPartyName, registeredID: not issued from; still in requestedExtensions.
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
  if (inner.tagClass !== UNIVERSAL || inner.type !== asn1.Type.UTF8) throw new CsrError(`subjectAltName UPN: expected UTF8String, got ${describe(inner)}`);
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
export function checkKeyPolicy(csr: ParsedCsr, policy: KeyPolicy): string | undefined {
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
