/** Terse builders over forge's ASN.1 so structures read like their definitions. */
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
