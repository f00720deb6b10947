/**
 * Characters that have no place in a name on a certificate or in a field an
 * MDM hands us, whoever supplied it:
 *
 * - control characters (C0 with NUL, DEL, C1) cut names short in C-string
 *   consumers and forge lines in logs and DN strings;
 * - bidirectional controls make a name display as something it is not
 *   (CVE-2021-42574, "Trojan Source"; Unicode Technical Report #36), and
 *   zero-width spaces, word joiners, line separators and the byte order
 *   mark hide inside a name that then reads like another;
 * - U+FFFD and unpaired surrogates mark text already broken on the way (not
 *   valid UTF-8, or half a UTF-16 pair): no UTF8String holds the latter,
 *   and the former is no longer the name the sender meant.
 *
 * Joiners that scripts need (U+200C, U+200D: Persian, Indic scripts, emoji)
 * are text, not tricks, and pass.
 */

// \p{Cs} with the u flag matches only unpaired surrogates: a pair is one code point.
const UNSAFE = /[\p{Cc}\p{Cs}\p{Bidi_Control}\u200B\u2028\u2029\u2060\uFEFF\uFFFD]/u;

export interface UnsafeCharacter {
  /** "U+202E". */
  codePoint: string;
  /** What it is, for a refusal: "a bidirectional control character (U+202E)". */
  description: string;
}

const codePointOf = (ch: string): string => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

function describe(ch: string, codePoint: string): string {
  if (/\p{Cs}/u.test(ch)) return 'an unpaired surrogate (half of a UTF-16 pair)';
  if (/\p{Cc}/u.test(ch)) return `a control character (${codePoint})`;
  if (ch === '\uFFFD') return 'U+FFFD, the replacement character of text that was not valid where it came from';
  if (/\p{Bidi_Control}/u.test(ch)) return `a bidirectional control character (${codePoint})`;
  return `an invisible character (${codePoint})`;
}

/** The first character of `text` that a name may not carry, or undefined when there is none. */
export function unsafeCharacter(text: string): UnsafeCharacter | undefined {
  const m = UNSAFE.exec(text);
  if (!m) return undefined;
  const codePoint = codePointOf(m[0]);
  return { codePoint, description: describe(m[0], codePoint) };
}
