/**
 * Terse builders over forge's ASN.1 so structures read like their
 * definitions, and a few that work on encoded bytes (tlv, derOid,
 * derOctets) for hot paths that embed what is already DER (certificates,
 * names, keys): forge would parse those into nodes only to encode them again.
 */
import forge from 'node-forge';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
export type Asn1 = forge.asn1.Asn1;

export const seq = (items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
export const nul = (): Asn1 => asn1.create(U, asn1.Type.NULL, false, '');
export const octets = (data: Buffer): Asn1 => asn1.create(U, asn1.Type.OCTETSTRING, false, data.toString('binary'));
export const int = (n: number): Asn1 => asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
export const bmp = (text: string): Asn1 => asn1.create(U, asn1.Type.BMPSTRING, false, text);
/** [n] EXPLICIT */
export const explicit = (n: number, inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, n, true, [inner]);
/** [n] IMPLICIT primitive (e.g. EncryptedContent) */
export const implicitOctets = (n: number, data: Buffer): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, n, false, data.toString('binary'));

export const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
export const fromDer = (der: Buffer): Asn1 => asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
export const bool = (v: boolean): Asn1 => asn1.create(U, asn1.Type.BOOLEAN, false, v ? '\xff' : '\x00');
/** BIT STRING of whole bytes (signatures, keys): the leading 00 counts unused bits. */
export const bitString = (bytes: Buffer): Asn1 => asn1.create(U, asn1.Type.BITSTRING, false, `\x00${bytes.toString('binary')}`);
export const utf8 = (text: string): Asn1 => asn1.create(U, asn1.Type.UTF8, false, forge.util.encodeUtf8(text));
export const printable = (text: string): Asn1 => asn1.create(U, asn1.Type.PRINTABLESTRING, false, text);
export const ia5 = (text: string): Asn1 => asn1.create(U, asn1.Type.IA5STRING, false, text);

/** AlgorithmIdentifier: RSA signature algorithms carry NULL parameters, ECDSA none. */
export const algorithmIdentifier = (a: { oid: string; nullParams: boolean }): Asn1 => seq(a.nullParams ? [oid(a.oid), nul()] : [oid(a.oid)]);

/** DER parse without forge's guess-decoding of BIT STRINGs, so re-encoding reproduces the input. */
export function parseDer(der: Buffer): Asn1 {
  const strictFromDer = asn1.fromDer as unknown as (bytes: forge.util.ByteBuffer, options: object) => Asn1;
  return strictFromDer(forge.util.createBuffer(der.toString('binary')), { strict: true, parseAllBytes: true, decodeBitStrings: false });
}

/** A DER TLV around already-encoded members: lets a signed part be encoded once and reused. */
export function tlv(tag: number, members: Buffer[]): Buffer {
  const body = Buffer.concat(members);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

export const derSequence = (members: Buffer[]): Buffer => tlv(0x30, members);

const oids = new Map<string, Buffer>();
/** An OBJECT IDENTIFIER, encoded once per OID. */
export function derOid(dotted: string): Buffer {
  let der = oids.get(dotted);
  if (!der) oids.set(dotted, (der = toDer(oid(dotted))));
  return der;
}

export const derOctets = (data: Buffer): Buffer => tlv(0x04, [data]);
