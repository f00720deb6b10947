/**
 * Names as a certificate encodes them (RFC 5280 §4.1.2.4): every RDN and
 * attribute value as it is in the DER, with each value's exact bytes, so
 * nothing is lost or re-interpreted on the way to a comparison.
 */
import { childSpans, DerError, oidOf, readDer, stringOf, tlvAt, type Span } from './der-reader.js';
import type { AttributeValue, Dn } from './dn.js';

const SEQUENCE = 0x30;
const SET = 0x31;
const VERSION = 0xa0; // [0] EXPLICIT, optional in TBSCertificate

function members(der: Buffer, span: Span, tag: number, what: string): Span[] {
  if (der[span.start] !== tag) throw new DerError(`${what}: expected ${tag === SET ? 'SET' : 'SEQUENCE'}`);
  return childSpans(der, span);
}

function attributeValue(der: Buffer, span: Span, what: string): AttributeValue {
  const [type, value, ...rest] = members(der, span, SEQUENCE, what);
  if (!type || !value || rest.length > 0) throw new DerError(`${what}: expected an attribute type and one value`);
  const bytes = Buffer.from(der.subarray(value.start, value.end));
  let text: string | undefined;
  try {
    text = stringOf(readDer(bytes, what), what);
  } catch {
    // Not readable as its string type (e.g. UTF8String that is not UTF-8): matched by its bytes only.
  }
  return { type: oidOf(readDer(der.subarray(type.start, type.end), `${what} type`), `${what} type`), der: bytes, ...(text !== undefined && { text }) };
}

function nameAt(der: Buffer, span: Span, what: string): Dn {
  return members(der, span, SEQUENCE, what).map((rdn, i) => {
    const values = members(der, rdn, SET, `${what} RDN ${i + 1}`);
    if (values.length === 0) throw new DerError(`${what} RDN ${i + 1} is empty`);
    return values.map((v) => attributeValue(der, v, `${what} RDN ${i + 1}`));
  });
}

/** A DER Name; throws DerError when it is not one. */
export function readName(der: Buffer, what = 'name'): Dn {
  const span = tlvAt(der, 0, der.length);
  if (span.end !== der.length) throw new DerError(`${what}: bytes follow the Name`);
  return nameAt(der, span, what);
}

/** The subject and issuer of a DER certificate; throws DerError when they cannot be read. */
export function certificateNames(der: Buffer): { subject: Dn; issuer: Dn } {
  const [tbs] = members(der, tlvAt(der, 0, der.length), SEQUENCE, 'certificate');
  if (!tbs) throw new DerError('certificate: TBSCertificate is missing');
  const fields = members(der, tbs, SEQUENCE, 'TBSCertificate');
  // version, serialNumber, signature, issuer, validity, subject: version may be absent.
  const at = fields[0] && der[fields[0].start] === VERSION ? 1 : 0;
  const issuer = fields[at + 2];
  const subject = fields[at + 4];
  if (!issuer || !subject) throw new DerError('certificate: TBSCertificate is cut short');
  return { subject: nameAt(der, subject, 'subject'), issuer: nameAt(der, issuer, 'issuer') };
}
