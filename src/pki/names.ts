/**
 * X.501 Names from attribute lists. Strings follow RFC 5280 §4.1.2.4:
 * UTF8String by default (display names such as "Jürgen Groß" need it),
 * PrintableString where the standard requires it (countryName,
 * serialNumber), IA5String for emailAddress and domainComponent.
 */
import { ia5, oid, printable, seq, set, utf8, type Asn1 } from './asn1.js';

export interface NameAttribute {
  /** Short name (CN, O, OU, C, L, ST, E, serialNumber, UID, DC, ...) or a dotted OID. */
  type: string;
  value: string;
}

type Encoding = typeof utf8;

const ATTRIBUTES: Record<string, { oid: string; encode: Encoding }> = {
  CN: { oid: '2.5.4.3', encode: utf8 },
  SN: { oid: '2.5.4.4', encode: utf8 },
  SERIALNUMBER: { oid: '2.5.4.5', encode: printable },
  C: { oid: '2.5.4.6', encode: printable },
  L: { oid: '2.5.4.7', encode: utf8 },
  ST: { oid: '2.5.4.8', encode: utf8 },
  STREET: { oid: '2.5.4.9', encode: utf8 },
  O: { oid: '2.5.4.10', encode: utf8 },
  OU: { oid: '2.5.4.11', encode: utf8 },
  T: { oid: '2.5.4.12', encode: utf8 },
  TITLE: { oid: '2.5.4.12', encode: utf8 },
  GN: { oid: '2.5.4.42', encode: utf8 },
  GIVENNAME: { oid: '2.5.4.42', encode: utf8 },
  E: { oid: '1.2.840.113549.1.9.1', encode: ia5 },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', encode: ia5 },
  UID: { oid: '0.9.2342.19200300.100.1.1', encode: utf8 },
  DC: { oid: '0.9.2342.19200300.100.1.25', encode: ia5 },
};

const DOTTED = /^\d+(\.\d+)+$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

export class NameError extends Error {}

/** Why an attribute type is unusable, or undefined when it is fine (config validation). */
export function unknownAttributeType(type: string): string | undefined {
  return ATTRIBUTES[type.toUpperCase()] || DOTTED.test(type)
    ? undefined
    : `unknown name attribute "${type}"; use one of ${[...new Set(Object.keys(ATTRIBUTES))].join(', ')} or a dotted OID`;
}

function attribute(a: NameAttribute): Asn1 {
  const known = ATTRIBUTES[a.type.toUpperCase()];
  if (!known && !DOTTED.test(a.type)) throw new NameError(unknownAttributeType(a.type));
  const encode = known?.encode ?? utf8;
  if (encode === printable && !PRINTABLE.test(a.value)) throw new NameError(`${a.type} value ${JSON.stringify(a.value)} has characters a PrintableString cannot hold`);
  if (encode === ia5 && !ASCII.test(a.value)) throw new NameError(`${a.type} value ${JSON.stringify(a.value)} must be ASCII`);
  if (a.type.toUpperCase() === 'C' && a.value.length !== 2) throw new NameError(`C must be a two-letter country code, got ${JSON.stringify(a.value)}`);
  return set([seq([oid(known?.oid ?? a.type), encode(a.value)])]);
}

/** One attribute per RDN, in the order given (the order the template spells). */
export const encodeName = (attributes: NameAttribute[]): Asn1 => seq(attributes.map(attribute));
