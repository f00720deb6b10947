/**
 * Distinguished names as structure, and their string form (RFC 4514).
 *
 * A name is its sequence of RDNs, each a set of attribute values. A value is
 * text, whichever ASN.1 string type carries it, or, for other ASN.1 types,
 * its DER, written `#hex`. Working on this structure instead of on strings
 * keeps a comma or plus sign inside a value from passing for the boundary
 * of an attribute or an RDN.
 */
import { decodeDer, oidContent } from './der-codec.js';
import { attributeLabel, attributeOid, unknownAttributeType } from './names.js';

export interface AttributeValue {
  /** The attribute type as a dotted OID. */
  type: string;
  /** The characters of a string value (any ASN.1 string type); absent for other types. */
  text?: string;
  /** The value's DER (tag, length, content): always for a value read from a certificate; for a parsed string only when written `#hex`. */
  der?: Buffer;
}

/** One RDN: a SET of attribute values, usually one. */
export type Rdn = AttributeValue[];

/** RDNs in the order the Name's SEQUENCE encodes them (RFC 4514 strings write them last-first). */
export type Dn = Rdn[];

export class DnSyntaxError extends Error {}

const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERIC_OID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/;
const HEX = /^[0-9A-Fa-f]$/;
/** Characters a backslash may escape as themselves (RFC 4514 §3, `escaped` and `special`). */
const ESCAPABLE = ' "#+,;<=>\\';
/** Characters RFC 4514 §2.4 requires escaped anywhere in a value (RFC 2253 also read ";" as a separator). */
const ALWAYS_ESCAPED = '"+,;<>\\';
/** Of those, the ones a parsed value may not hold unescaped ("," and "+" end it). */
const MUST_ESCAPE = '";<>';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over the string being parsed; errors name the character they stopped at. */
class Reader {
  at = 0;
  constructor(readonly text: string) {}

  get next(): string | undefined {
    return this.text[this.at];
  }

  skipSpaces(): void {
    while (this.text[this.at] === ' ') this.at++;
  }

  fail(problem: string): never {
    throw new DnSyntaxError(`${problem} at character ${this.at + 1}`);
  }
}

function attributeType(r: Reader): string {
  r.skipSpaces();
  const start = r.at;
  while (r.next !== undefined && r.next !== '=' && r.next !== ',' && r.next !== '+') r.at++;
  const type = r.text.slice(start, r.at).trim();
  if (r.next !== '=' || type === '') {
    r.at = start;
    r.fail('expected TYPE=value');
  }
  r.at++;
  if (NUMERIC_OID.test(type)) {
    try {
      oidContent(type);
    } catch {
      r.at = start;
      r.fail(`"${type}" is not an OBJECT IDENTIFIER`);
    }
    return type;
  }
  const oid = DESCR.test(type) ? attributeOid(type) : undefined;
  if (oid) return oid;
  r.at = start;
  return r.fail(unknownAttributeType(type) ?? `"${type}" is not a dotted OID (its numbers are written without leading zeros)`);
}

/** `#` and the hex of one DER value (RFC 4514 §2.4, for values that are not strings). */
function hexValue(r: Reader): Buffer {
  const start = ++r.at;
  while (r.next !== undefined && HEX.test(r.next)) r.at++;
  const hex = r.text.slice(start, r.at);
  r.skipSpaces();
  if (r.next !== undefined && r.next !== ',' && r.next !== '+') r.fail('a value starting with "#" is the hex of its DER; escape a literal "#" as "\\#"');
  if (hex.length === 0 || hex.length % 2) r.fail(`"#${hex}" is not whole bytes of hex`);
  const der = Buffer.from(hex, 'hex');
  try {
    decodeDer(der);
  } catch {
    r.fail(`"#${hex}" is not one DER value`);
  }
  return der;
}

/** A string value up to the next unescaped "," or "+": escapes resolved, unescaped spaces around it dropped. */
function stringValue(r: Reader): string {
  const bytes: Buffer[] = [];
  let significant = 0; // bytes up to the last escaped or non-space character
  let length = 0;
  const push = (b: Buffer, counts: boolean) => {
    bytes.push(b);
    length += b.length;
    if (counts) significant = length;
  };
  while (r.next !== undefined && r.next !== ',' && r.next !== '+') {
    const ch = String.fromCodePoint(r.text.codePointAt(r.at)!);
    if (ch === '\\') {
      const a = r.text[r.at + 1];
      const b = r.text[r.at + 2];
      if (a !== undefined && b !== undefined && HEX.test(a) && HEX.test(b)) {
        push(Buffer.from(a + b, 'hex'), true);
        r.at += 3;
      } else if (a !== undefined && ESCAPABLE.includes(a)) {
        push(Buffer.from(a), true);
        r.at += 2;
      } else {
        r.fail(
          a === undefined ? 'a value ends in a lone "\\"' : `"\\${a}" is no escape: a backslash escapes one of ${ESCAPABLE.trim()}, a space, or two hex digits`,
        );
      }
      continue;
    }
    if (MUST_ESCAPE.includes(ch)) r.fail(`"${ch}" must be escaped as "\\${ch}"`);
    if (ch === '\0') r.fail('a NUL must be escaped as "\\00"');
    push(Buffer.from(ch, 'utf8'), ch !== ' ');
    r.at += ch.length;
  }
  try {
    return utf8.decode(Buffer.concat(bytes).subarray(0, significant));
  } catch {
    return r.fail('the hex escapes of a value are not UTF-8');
  }
}

function attributeValue(r: Reader): AttributeValue {
  const type = attributeType(r);
  r.skipSpaces();
  return r.next === '#' ? { type, der: hexValue(r) } : { type, text: stringValue(r) };
}

/**
 * Parses an RFC 4514 string, with RFC 1779's leniency for spaces around
 * "," "+" and "=" (as in "CN=a, O=b"). Short names are those of names.ts,
 * in any case, or dotted OIDs. Throws DnSyntaxError saying what and where.
 */
export function parseDn(text: string): Dn {
  const r = new Reader(text);
  if (text.trim() === '') r.fail('a distinguished name is empty');
  if (text.trimStart().startsWith('/')) r.fail('write the name as RFC 4514 ("CN=a, O=b"), not in the slash form ("/O=b/CN=a")');
  const written: Dn = [];
  for (;;) {
    const rdn: Rdn = [attributeValue(r)];
    while (r.next === '+') {
      r.at++;
      rdn.push(attributeValue(r));
    }
    written.push(rdn);
    if (r.next === undefined) break;
    r.at++; // ","
  }
  return written.reverse();
}

/** Characters printed as the hex of their UTF-8 bytes, as they would hide or mislead in a displayed name: controls, bidi and other format characters, line separators. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

function escapeText(value: string): string {
  const chars = Array.from(value);
  return chars
    .map((ch, i) => {
      if (ALWAYS_ESCAPED.includes(ch)) return `\\${ch}`;
      if ((ch === ' ' && (i === 0 || i === chars.length - 1)) || (ch === '#' && i === 0)) return `\\${ch}`;
      if (HIDDEN.test(ch)) return [...Buffer.from(ch, 'utf8')].map((b) => `\\${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
      return ch;
    })
    .join('');
}

const valueText = (v: AttributeValue): string => (v.text !== undefined ? escapeText(v.text) : `#${v.der!.toString('hex').toUpperCase()}`);

/**
 * A name for display: values escaped as RFC 4514 §2.4 says, types by short
 * name where names.ts has one, RDNs in the certificate's order joined by
 * ", " as OpenSSL's default print, X509Certificate#subject and the
 * certificate records list them. parseDn reads it back as the same name
 * read in reverse, which allowlists accept (src/http/auth/dn.ts).
 */
export function formatDn(dn: Dn): string {
  return dn.map((rdn) => rdn.map((v) => `${attributeLabel(v.type) ?? v.type}=${valueText(v)}`).join('+')).join(', ');
}
