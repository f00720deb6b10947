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
// Only XML's predefined and numeric character references: no entity declared in a DTD is expanded.
const FOREIGN_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/;

/** Reads an XML plist whose top level is a dictionary; PlistError says what is wrong. */
export function readPlistDict(bytes: Buffer): PlistDict {
  let text: string;
  try {
    text = utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new PlistError('the property list is not UTF-8 text');
  }
  const start = text.trimStart();
  if (!/^<(\?xml|!DOCTYPE|plist)/.test(start)) throw new PlistError('expected an XML property list');
  if (/<!ENTITY/i.test(text) || FOREIGN_ENTITY.test(text)) throw new PlistError('the property list declares or uses entities');
  // xmldom (under `plist`) reports malformed XML on the console; well-formedness is checked here first.
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
