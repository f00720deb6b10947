/**
 * XML property lists, as iOS sends device attributes and reads profiles.
 * The `plist` package does the XML; this module only decides what is
 * accepted from a device: UTF-8 XML with a dictionary at the top, no
 * entity declarations, nothing binary or OpenStep.
 */
import { XMLValidator } from 'fast-xml-parser';
import { build, parse, type PlistValue } from 'plist';

export type { PlistValue };
export type PlistDict = { [key: string]: PlistValue };

export class PlistError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const WS = '[ \\t\\r\\n]'; // XML's white space (\s would also take Unicode spaces XML does not)
// What iOS writes up to <plist>: an XML declaration and Apple's DOCTYPE, both optional, nothing else.
const PROLOG = new RegExp(
  `^(?:<\\?xml${WS}+version="1\\.0"(?:${WS}+encoding="[Uu][Tt][Ff]-8")?${WS}*\\?>${WS}*)?` +
    `(?:<!DOCTYPE${WS}+plist${WS}+PUBLIC${WS}+"-//Apple//DTD PLIST 1\\.0//EN"${WS}+"http://www\\.apple\\.com/DTDs/PropertyList-1\\.0\\.dtd"${WS}*>${WS}*)?` +
    `<plist(?:${WS}+version="1\\.0")?${WS}*>`,
);
// Markup the XML checker lets through but xmldom would complain about on the console.
const ODD_MARKUP = new RegExp(`<\\?|<!(?!--|\\[CDATA\\[)|\\uFFFD|<[A-Za-z][\\w:.-]*${WS}+[^ \\t\\r\\n/>]|</(?![A-Za-z][\\w:.-]*${WS}*>)`);
// Only XML's predefined and numeric character references: no entity from a DTD is ever expanded.
const FOREIGN_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/;

/** Reads an XML plist whose top level is a dictionary; PlistError says what is wrong. */
export function readPlistDict(bytes: Buffer): PlistDict {
  let text: string;
  try {
    text = utf8.decode(bytes).replace(/^\uFEFF?[ \t\r\n]*/, '');
  } catch {
    throw new PlistError('the property list is not UTF-8 text');
  }
  const prolog = PROLOG.exec(text);
  if (!prolog) throw new PlistError("expected an XML property list (<plist>, optionally after the XML declaration and Apple's DOCTYPE)");
  const body = text.slice(prolog[0].length);
  // xmldom (under `plist`) reports on the console whatever it finds odd; such input is refused here first.
  const end = body.indexOf('</plist>');
  if (end < 0 || !/^[ \t\r\n]*$/.test(body.slice(end + 8))) throw new PlistError('the property list must end with its one </plist>');
  if (ODD_MARKUP.test(body) || FOREIGN_ENTITY.test(body)) {
    throw new PlistError('the property list holds attributes, processing instructions, declarations, entities or replacement characters');
  }
  const wellFormed = XMLValidator.validate(text);
  if (wellFormed !== true) throw new PlistError(`the property list is not well-formed XML: ${wellFormed.err.msg} (line ${wellFormed.err.line})`);
  let value: PlistValue;
  try {
    value = parse(text);
  } catch (err) {
    throw new PlistError(`malformed property list: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isDict(value)) throw new PlistError('the property list does not hold a dictionary');
  return value;
}

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);
}

/** XML plist bytes: Buffers become <data>, whole numbers <integer>, booleans <true/>/<false/>. */
export function writePlist(value: PlistValue): Buffer {
  return Buffer.from(build(value), 'utf8');
}
