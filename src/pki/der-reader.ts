/**
 * Strict reading of received DER (PKCS#10, PKCS#7, OCSP requests).
 *
 * der-codec.ts walks the ASN.1 into nodes; the accessors below check each
 * node's tag and shape so a parser reads like its ASN.1 definition. Nodes
 * keep no byte offsets, so tlvAt/childSpans recover exact byte ranges
 * separately.
 *
 * Every failure is a DerError whose message names the field (`what`), so a
 * parser can rethrow it as its own error type, message unchanged.
 */
import { decodeDer, oidFromContent, type Asn1 } from './der-codec.js';

/** Input that is not, or does not decode to, the DER expected. */
export class DerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DerError';
  }
}

// Universal tag numbers (X.680).
export const TAG = {
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
// Raw TLV spans. Signatures must be checked over the bytes as received:
// re-encoding would normalise e.g. non-minimal lengths and break
// valid signatures.

export interface Span {
  start: number;
  contentStart: number;
  end: number;
}

export function tlvAt(der: Buffer, offset: number, limit: number): Span {
  if (offset + 2 > limit) throw new DerError(`truncated: ASN.1 header at byte ${offset} is cut off`);
  const first = der[offset + 1]!;
  let length = first;
  let header = 2;
  if (first === 0x80) throw new DerError(`indefinite-length (BER) encoding at byte ${offset} is not DER`);
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4) throw new DerError(`ASN.1 length at byte ${offset} uses ${n} length bytes`);
    if (offset + 2 + n > limit) throw new DerError(`truncated: ASN.1 length at byte ${offset} is cut off`);
    length = der.readUIntBE(offset + 2, n);
    header += n;
  }
  const end = offset + header + length;
  if (end > limit) throw new DerError(`truncated: value at byte ${offset} needs ${length} bytes, only ${limit - offset - header} present`);
  return { start: offset, contentStart: offset + header, end };
}

export function childSpans(der: Buffer, parent: Span): Span[] {
  const spans: Span[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const span = tlvAt(der, at, parent.end);
    spans.push(span);
    at = span.end;
  }
  return spans;
}

// ---------------------------------------------------------------------------
// Nodes, every mismatch a DerError naming the field.

export function readDer(der: Buffer, what: string): Asn1 {
  try {
    return decodeDer(der);
  } catch (err) {
    throw new DerError(`${what} is not valid DER: ${messageOf(err)}`, { cause: err });
  }
}

export const UNIVERSAL = 0x00;
export const CONTEXT = 0x80;

// biome-ignore lint/complexity/useSimpleNumberKeys: tag class bits as X.690 writes them
const CLASS_NAMES: Record<number, string> = { 0x40: 'APPLICATION', 0xc0: 'PRIVATE' };

/** e.g. "constructed SEQUENCE", "primitive [2]", for "expected X, got Y" messages. */
export function describe(node: Asn1): string {
  const form = node.constructed ? 'constructed' : 'primitive';
  if (node.tagClass === CONTEXT) return `${form} [${node.type}]`;
  if (node.tagClass === UNIVERSAL) return `${form} ${TAG_NAMES[node.type] ?? `universal tag ${node.type}`}`;
  return `${form} [${CLASS_NAMES[node.tagClass]} ${node.type}]`;
}

/** A constructed universal node of `type` (SEQUENCE, SET); returns its children. */
export function constructed(node: Asn1 | undefined, type: number, what: string): Asn1[] {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tagClass !== UNIVERSAL || node.type !== type || !node.constructed || !Array.isArray(node.value)) {
    throw new DerError(`${what}: expected constructed ${TAG_NAMES[type]}, got ${describe(node)}`);
  }
  return node.value;
}

/** The content octets of a primitive node, as a binary (Latin-1) string. */
export function primitive(node: Asn1 | undefined, type: number, what: string, tagClass: number = UNIVERSAL): string {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tagClass !== tagClass || node.type !== type || node.constructed || typeof node.value !== 'string') {
    const expected = tagClass === CONTEXT ? `[${type}]` : TAG_NAMES[type];
    throw new DerError(`${what}: expected primitive ${expected}, got ${describe(node)}`);
  }
  return node.value;
}

export function oidOf(node: Asn1 | undefined, what: string): string {
  try {
    return oidFromContent(primitive(node, TAG.OID, what));
  } catch (err) {
    if (err instanceof DerError) throw err;
    throw new DerError(`${what}: malformed OBJECT IDENTIFIER`, { cause: err });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** DirectoryString and the other string types names use; undefined for non-string values. */
export function stringOf(node: Asn1, what: string): string | undefined {
  if (node.tagClass !== UNIVERSAL || node.constructed || typeof node.value !== 'string') return undefined;
  const raw = node.value;
  switch (node.type as number) {
    case TAG.UTF8:
      try {
        return utf8.decode(Buffer.from(raw, 'binary'));
      } catch {
        throw new DerError(`${what}: UTF8String is not valid UTF-8`);
      }
    case TAG.BMP:
      return raw; // decoded from UCS-2 into a JS string already
    case TAG.UNIVERSAL: {
      const buf = Buffer.from(raw, 'binary');
      if (buf.length % 4) throw new DerError(`${what}: UniversalString of ${buf.length} bytes is not UCS-4`);
      const codePoints = Array.from({ length: buf.length / 4 }, (_, i) => buf.readUInt32BE(i * 4));
      if (codePoints.some((c) => c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))) throw new DerError(`${what}: UniversalString holds an invalid code point`);
      return String.fromCodePoint(...codePoints);
    }
    case TAG.PRINTABLE:
    case TAG.IA5:
    case TAG.NUMERIC:
    case TAG.VISIBLE:
    // T.61 is not Latin-1, but real-world encoders only use its ASCII subset, where they agree.
    case TAG.T61:
    case TAG.GRAPHIC:
    case TAG.GENERAL:
      return raw; // binary string = Latin-1
    default:
      return undefined;
  }
}

/** IA5 (ASCII) content of an IMPLICIT-tagged GeneralName. */
export function ia5Text(raw: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, which IA5String allows
  if (/[^\x00-\x7f]/.test(raw)) throw new DerError(`${what} is not ASCII (IA5String)`);
  return raw;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
