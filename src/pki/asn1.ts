/**
 * Terse builders of ASN.1 nodes (the shape node-forge uses, encoded by
 * der-codec.ts) so structures read like their definitions, and a few that
 * work on encoded bytes (tlv, derOid, derOctets) for hot paths that embed
 * what is already DER (certificates, names, keys): parsing those into nodes
 * only to encode them again would be wasted work.
 */
import type forge from 'node-forge';
import { decodeDer, encodeDer, oidContent, type Asn1 } from './der-codec.js';

export type { Asn1 } from './der-codec.js';

// forge's tag classes and universal types, as numbers.
const U = 0x00 as forge.asn1.Class;
const CONTEXT = 0x80 as forge.asn1.Class;
const T = {
  BOOLEAN: 1,
  INTEGER: 2,
  BITSTRING: 3,
  OCTETSTRING: 4,
  NULL: 5,
  OID: 6,
  UTF8: 12,
  SEQUENCE: 16,
  SET: 17,
  PRINTABLESTRING: 19,
  IA5STRING: 22,
  BMPSTRING: 30,
} as const;

const node = (tagClass: forge.asn1.Class, type: number, value: string | Asn1[]): Asn1 => {
  const constructed = Array.isArray(value);
  return { tagClass, type: type as forge.asn1.Type, constructed, composed: constructed, value: constructed ? value.filter((v) => v !== undefined) : value };
};

/** Two's-complement content octets of a small integer, minimal as DER wants. */
function integerContent(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not a safe integer: ${n}`);
  // Eight bytes hold any safe integer with its sign; leading bytes that only repeat the sign go.
  let bytes = Buffer.from(BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, '0'), 'hex');
  while (bytes.length > 1 && ((bytes[0] === 0 && !(bytes[1]! & 0x80)) || (bytes[0] === 0xff && bytes[1]! & 0x80))) bytes = bytes.subarray(1);
  return bytes.toString('latin1');
}

export const seq = (items: Asn1[]): Asn1 => node(U, T.SEQUENCE, items);
export const set = (items: Asn1[]): Asn1 => node(U, T.SET, items);
export const oid = (dotted: string): Asn1 => node(U, T.OID, oidContent(dotted));
export const nul = (): Asn1 => node(U, T.NULL, '');
export const octets = (data: Buffer): Asn1 => node(U, T.OCTETSTRING, data.toString('latin1'));
export const int = (n: number): Asn1 => node(U, T.INTEGER, integerContent(n));
export const bmp = (text: string): Asn1 => node(U, T.BMPSTRING, text);
/** [n] EXPLICIT */
export const explicit = (n: number, inner: Asn1): Asn1 => node(CONTEXT, n, [inner]);
/** [n] IMPLICIT primitive (e.g. EncryptedContent) */
export const implicitOctets = (n: number, data: Buffer): Asn1 => node(CONTEXT, n, data.toString('latin1'));

export const toDer = (root: Asn1): Buffer => encodeDer(root);

export const bool = (v: boolean): Asn1 => node(U, T.BOOLEAN, v ? '\xff' : '\x00');
/** BIT STRING of whole bytes (signatures, keys): the leading 00 counts unused bits. */
export const bitString = (bytes: Buffer): Asn1 => node(U, T.BITSTRING, `\x00${bytes.toString('latin1')}`);
export const utf8 = (text: string): Asn1 => node(U, T.UTF8, Buffer.from(text, 'utf8').toString('latin1'));
export const printable = (text: string): Asn1 => node(U, T.PRINTABLESTRING, text);
export const ia5 = (text: string): Asn1 => node(U, T.IA5STRING, text);

/** AlgorithmIdentifier: RSA signature algorithms carry NULL parameters, ECDSA none. */
export const algorithmIdentifier = (a: { oid: string; nullParams: boolean }): Asn1 => seq(a.nullParams ? [oid(a.oid), nul()] : [oid(a.oid)]);

/** Strict DER parse (forge's strict mode, without its guess-decoding of BIT STRINGs), so re-encoding reproduces the input. */
export const parseDer = (der: Buffer): Asn1 => decodeDer(der);

/** A DER TLV around already-encoded members: lets a signed part be encoded once and reused. */
export function tlv(tag: number, members: Buffer[]): Buffer {
  let n = 0;
  for (const m of members) n += m.length;
  const lengthBytes = n < 0x80 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 3;
  const out = Buffer.allocUnsafe(2 + lengthBytes + n);
  out[0] = tag;
  if (lengthBytes === 0) {
    out[1] = n;
  } else {
    out[1] = 0x80 | lengthBytes;
    out.writeUIntBE(n, 2, lengthBytes);
  }
  let at = 2 + lengthBytes;
  for (const m of members) at += m.copy(out, at);
  return out;
}

export const derSequence = (members: Buffer[]): Buffer => tlv(0x30, members);

const oids = new Map<string, Buffer>();
/** An OBJECT IDENTIFIER, encoded once per OID. */
export function derOid(dotted: string): Buffer {
  let der = oids.get(dotted);
  if (!der) {
    der = toDer(oid(dotted));
    oids.set(dotted, der);
  }
  return der;
}

export const derOctets = (data: Buffer): Buffer => tlv(0x04, [data]);
