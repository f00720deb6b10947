/**
 * DER bytes <-> ASN.1 nodes of the shape node-forge uses ({ tagClass, type,
 * constructed, composed, value }: children, or the content octets as a
 * binary string), so forge's own structures and ours mix freely.
 *
 * forge's codec builds every value through its string ByteBuffer, copies
 * each BIT STRING for change detection and encodes by string concatenation:
 * about a third of the memory a SCEP enrollment allocated, and the collector
 * time that goes with it. This one slices and writes Buffers once. It reads
 * what forge's strict mode reads (including BER's indefinite lengths of
 * constructed values, for the callers that normalise BER) and writes the
 * same bytes forge writes for the same nodes.
 */
import type forge from 'node-forge';

export type Asn1 = forge.asn1.Asn1;

const UNIVERSAL = 0x00;
const INTEGER = 2;
const BMP_STRING = 30;
const MAX_DEPTH = 256;

// ---------------------------------------------------------------------------
// Decoding

/** One DER value spanning all of `der`; throws Error with forge's wording for malformed input. */
export function decodeDer(der: Buffer): Asn1 {
  const { node, end } = decodeAt(der, 0, der.length, 0);
  if (end !== der.length) throw new Error('Unparsed DER bytes remain after ASN.1 parsing.');
  return node;
}

function decodeAt(der: Buffer, offset: number, limit: number, depth: number): { node: Asn1; end: number } {
  if (depth >= MAX_DEPTH) throw new Error('ASN.1 parsing error: Max depth exceeded.');
  if (limit - offset < 2) throw new Error('Too few bytes to parse DER.');
  const b1 = der[offset]!;
  const b2 = der[offset + 1]!;
  let at = offset + 2;
  let length: number | undefined;
  if (b2 < 0x80) {
    length = b2;
  } else if (b2 > 0x80) {
    const n = b2 & 0x7f;
    if (n > 4) throw new Error(`ASN.1 length uses ${n} bytes.`);
    if (limit - at < n) throw new Error('Too few bytes to parse DER.');
    length = der.readUIntBE(at, n);
    at += n;
  } // 0x80: indefinite length (BER), up to an end-of-contents
  if (length !== undefined && length > limit - at) throw new Error('Too few bytes to read ASN.1 value.');
  const tagClass = (b1 & 0xc0) as forge.asn1.Class;
  const type = (b1 & 0x1f) as forge.asn1.Type;
  if (b1 & 0x20) {
    const children: Asn1[] = [];
    if (length === undefined) {
      for (;;) {
        if (limit - at < 2) throw new Error('Too few bytes to parse DER.');
        if (der[at] === 0 && der[at + 1] === 0) {
          at += 2;
          break;
        }
        const child = decodeAt(der, at, limit, depth + 1);
        children.push(child.node);
        at = child.end;
      }
      return { node: { tagClass, type, constructed: true, composed: true, value: children }, end: at };
    }
    const end = at + length;
    while (at < end) {
      const child = decodeAt(der, at, end, depth + 1);
      children.push(child.node);
      at = child.end;
    }
    return { node: { tagClass, type, constructed: true, composed: true, value: children }, end };
  }
  if (length === undefined) throw new Error('Non-constructed ASN.1 object of indefinite length.');
  const end = at + length;
  let value: string;
  if (type === BMP_STRING) {
    if (length % 2) throw new Error('BMPString of an odd number of bytes.');
    value = '';
    for (let i = at; i < end; i += 2) value += String.fromCharCode(der.readUInt16BE(i));
  } else {
    value = der.toString('latin1', at, end);
  }
  return { node: { tagClass, type, constructed: false, composed: false, value }, end };
}

// ---------------------------------------------------------------------------
// Encoding

/** The DER of a node tree, as forge's asn1.toDer would write it. */
export function encodeDer(node: Asn1): Buffer {
  // Content sizes in pre-order, the order write() visits the nodes in.
  const sizes: number[] = [];
  const out = Buffer.allocUnsafe(sizeOf(node, sizes));
  const cursor = { at: 0, node: 0 };
  write(node, out, cursor, sizes);
  if (cursor.at !== out.length) throw new Error('DER encoder size mismatch');
  return out;
}

const headerSize = (contentLength: number): number =>
  contentLength < 0x80 ? 2 : contentLength < 0x100 ? 3 : contentLength < 0x10000 ? 4 : contentLength < 0x1000000 ? 5 : 6;

/** Whether a primitive value is an INTEGER with one redundant leading byte, which forge leaves out. */
function dropsLeadingByte(node: Asn1): boolean {
  const text = node.value as string;
  if (node.type !== INTEGER || node.tagClass !== UNIVERSAL || text.length < 2) return false;
  const first = text.charCodeAt(0);
  const second = text.charCodeAt(1);
  return (first === 0 && (second & 0x80) === 0) || (first === 0xff && (second & 0x80) === 0x80);
}

/** Size of the whole TLV; pushes the content sizes of the tree in pre-order. */
function sizeOf(node: Asn1, sizes: number[]): number {
  const index = sizes.push(0) - 1;
  let content: number;
  if (Array.isArray(node.value)) {
    content = node.constructed ? 0 : 1; // a composed BIT STRING starts with its unused-bits octet
    for (const child of node.value) if (child !== undefined) content += sizeOf(child, sizes);
  } else if (node.type === BMP_STRING) {
    content = 2 * node.value.length;
  } else {
    content = node.value.length - (dropsLeadingByte(node) ? 1 : 0);
  }
  sizes[index] = content;
  return headerSize(content) + content;
}

function write(node: Asn1, out: Buffer, cursor: { at: number; node: number }, sizes: number[]): void {
  const content = sizes[cursor.node++]!;
  const composed = Array.isArray(node.value);
  let at = cursor.at;
  out[at++] = node.tagClass | node.type | (composed && node.constructed ? 0x20 : 0);
  if (content < 0x80) {
    out[at++] = content;
  } else {
    const n = headerSize(content) - 2;
    out[at++] = 0x80 | n;
    out.writeUIntBE(content, at, n);
    at += n;
  }
  if (Array.isArray(node.value)) {
    if (!node.constructed) out[at++] = 0;
    cursor.at = at;
    for (const child of node.value) if (child !== undefined) write(child, out, cursor, sizes);
    return;
  }
  if (node.type === BMP_STRING) {
    for (let i = 0; i < node.value.length; i++, at += 2) out.writeUInt16BE(node.value.charCodeAt(i), at);
  } else {
    const from = dropsLeadingByte(node) ? 1 : 0;
    at += out.write(from ? node.value.slice(from) : node.value, at, 'latin1');
  }
  cursor.at = at;
}

// ---------------------------------------------------------------------------
// OBJECT IDENTIFIER content octets

const oidContents = new Map<string, string>();

/** The content octets of an OID in dotted form, as a binary string (cached: OIDs repeat). */
export function oidContent(dotted: string): string {
  let content = oidContents.get(dotted);
  if (content !== undefined) return content;
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`not an OBJECT IDENTIFIER: ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new Error(`not an OBJECT IDENTIFIER: ${dotted}`);
  const subidentifiers = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const sub of subidentifiers) {
    const groups: number[] = [];
    let v = sub;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length; i++) bytes.push(groups[i]! | (i < groups.length - 1 ? 0x80 : 0));
  }
  content = String.fromCharCode(...bytes);
  if (oidContents.size < 4096) oidContents.set(dotted, content);
  return content;
}

/** Dotted form of OID content octets (a binary string); throws for a truncated last subidentifier. */
export function oidFromContent(bytes: string): string {
  if (bytes.length === 0 || bytes.charCodeAt(bytes.length - 1) & 0x80) throw new Error('malformed OBJECT IDENTIFIER');
  const arcs: string[] = [];
  let value = 0;
  let big: bigint | undefined;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i);
    // Arcs past 2^45 (UUID OIDs under 2.25) continue in BigInt; the rest stay in doubles.
    if (big !== undefined) big = (big << 7n) | BigInt(b & 0x7f);
    else if (value >= 2 ** 45) big = (BigInt(value) << 7n) | BigInt(b & 0x7f);
    else value = value * 128 + (b & 0x7f);
    if (b & 0x80) continue;
    if (arcs.length === 0) {
      const first = big ?? BigInt(value);
      const top = first < 40n ? 0n : first < 80n ? 1n : 2n;
      arcs.push(String(top), String(first - top * 40n));
    } else {
      arcs.push(big !== undefined ? String(big) : String(value));
    }
    value = 0;
    big = undefined;
  }
  return arcs.join('.');
}
