/**
 * The references XML itself defines, and nothing more, for the text of
 * Workspace ONE's XML events: the five predefined entities (XML 1.0 §4.6)
 * and character references (§4.1), so `r&amp;d@example.com` is read as
 * `r&d@example.com` and `&#x202E;` as the character it names, which the
 * field check (src/connectors/field-text.ts) then judges like any other.
 *
 * No XXE: an entity a DOCTYPE declares is never expanded (fast-xml-parser
 * hands declarations to addInputEntities, which keeps none of them), and
 * the parser fetches nothing (it refuses SYSTEM and PUBLIC entities), so an
 * event can neither read a file or a URL nor swell by nested entities. A
 * reference to anything else, a character reference to a code point XML
 * does not allow (§2.2 Char: NUL, most C0 controls, surrogates, U+FFFE/F)
 * and an `&` that starts no reference make the document malformed (§4.1
 * WFC: Entity Declared, Legal Character; §2.4).
 */
import type { EntityDecoderOptions } from 'fast-xml-parser';

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Every `&`, with the reference it starts when it starts one (names are kept short: they may be quoted in a refusal). */
const REFERENCE = /&(?:#x([0-9A-Fa-f]+);|#([0-9]+);|([A-Za-z_][A-Za-z0-9._-]{0,31});)?/g;

const isXmlChar = (cp: number): boolean =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);

export class XmlReferenceError extends Error {}

/** Decodes the predefined entities and character references of one text node; throws XmlReferenceError for anything else. */
export function decodeXmlReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (ref, hex: string | undefined, decimal: string | undefined, name: string | undefined) => {
    if (hex !== undefined || decimal !== undefined) {
      const cp = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(decimal!, 10);
      if (!isXmlChar(cp)) throw new XmlReferenceError(`${ref.length > 16 ? `${ref.slice(0, 16)}…` : ref} names no character XML allows`);
      return String.fromCodePoint(cp);
    }
    if (name !== undefined) {
      if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name]!;
      throw new XmlReferenceError(`entity &${name}; is not expanded; only &lt; &gt; &amp; &apos; &quot; and character references are`);
    }
    throw new XmlReferenceError('an & that starts no entity or character reference; write it as &amp;');
  });
}

/** The decoder fast-xml-parser's `entityDecoder` option takes: declared entities are dropped, never registered. */
export const xmlReferences: EntityDecoderOptions = {
  setExternalEntities: () => undefined,
  addInputEntities: () => undefined,
  reset: () => undefined,
  setXmlVersion: () => undefined,
  decode: decodeXmlReferences,
};
