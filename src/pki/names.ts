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

/** `label` is OpenSSL's short name, what X509Certificate#subject prints. */
const ATTRIBUTES: Record<string, { oid: string; encode: Encoding; label: string }> = {
  CN: { oid: '2.5.4.3', encode: utf8, label: 'CN' },
  SN: { oid: '2.5.4.4', encode: utf8, label: 'SN' },
  SERIALNUMBER: { oid: '2.5.4.5', encode: printable, label: 'serialNumber' },
  C: { oid: '2.5.4.6', encode: printable, label: 'C' },
  L: { oid: '2.5.4.7', encode: utf8, label: 'L' },
  ST: { oid: '2.5.4.8', encode: utf8, label: 'ST' },
  STREET: { oid: '2.5.4.9', encode: utf8, label: 'street' },
  O: { oid: '2.5.4.10', encode: utf8, label: 'O' },
  OU: { oid: '2.5.4.11', encode: utf8, label: 'OU' },
  T: { oid: '2.5.4.12', encode: utf8, label: 'title' },
  TITLE: { oid: '2.5.4.12', encode: utf8, label: 'title' },
  GN: { oid: '2.5.4.42', encode: utf8, label: 'GN' },
  GIVENNAME: { oid: '2.5.4.42', encode: utf8, label: 'GN' },
  E: { oid: '1.2.840.113549.1.9.1', encode: ia5, label: 'emailAddress' },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', encode: ia5, label: 'emailAddress' },
  UID: { oid: '0.9.2342.19200300.100.1.1', encode: utf8, label: 'UID' },
  DC: { oid: '0.9.2342.19200300.100.1.25', encode: ia5, label: 'DC' },
};

const DOTTED = /^\d+(\.\d+)+$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
// eslint-disable-next-line no-control-regex
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII
const ASCII = /^[\x00-\x7f]*$/;

export class NameError extends Error {}

/** The OID an attribute type names (short name, any case, or dotted); undefined when unknown. */
export function attributeOid(type: string): string | undefined {
  return ATTRIBUTES[type.toUpperCase()]?.oid ?? (DOTTED.test(type) ? type : undefined);
}

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
  if (encode === printable && !PRINTABLE.test(a.value))
    throw new NameError(`${a.type} value ${JSON.stringify(a.value)} has characters a PrintableString cannot hold`);
  if (encode === ia5 && !ASCII.test(a.value)) throw new NameError(`${a.type} value ${JSON.stringify(a.value)} must be ASCII`);
  if (a.type.toUpperCase() === 'C' && a.value.length !== 2) throw new NameError(`C must be a two-letter country code, got ${JSON.stringify(a.value)}`);
  return set([seq([oid(known?.oid ?? a.type), encode(a.value)])]);
}

/** One attribute per RDN, in the order given (the order the template spells). */
export const encodeName = (attributes: NameAttribute[]): Asn1 => seq(attributes.map(attribute));

/**
 * A value escaped as OpenSSL prints names for X509Certificate#subject
 * (RFC 2253 escapes, control characters as \XX, other text as is).
 */
function escapeValue(value: string): string {
  const last = value.length - 1;
  let out = '';
  for (let i = 0; i <= last; i++) {
    const ch = value[i]!;
    const code = ch.charCodeAt(0);
    if (',+"\\<>;'.includes(ch)) out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    // OpenSSL flags the last character instead of the first when they are the same one, so a lone "#" stays as is.
    else if ((ch === ' ' && (i === 0 || i === last)) || (ch === '#' && i === 0 && last > 0)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/**
 * The name as X509Certificate#subject prints it, lines joined with ", ", without
 * parsing a certificate; undefined when an attribute is a dotted OID (OpenSSL's
 * own table names those).
 */
export function formatName(attributes: NameAttribute[]): string | undefined {
  const parts: string[] = [];
  for (const a of attributes) {
    const known = ATTRIBUTES[a.type.toUpperCase()];
    if (!known) return undefined;
    parts.push(`${known.label}=${escapeValue(a.value)}`);
  }
  return parts.join(', ');
}

/** OpenSSL's short name for an attribute OID, or undefined when it has none here. */
export const attributeLabel = (oid: string): string | undefined => Object.values(ATTRIBUTES).find((a) => a.oid === oid)?.label;
