/**
 * Characters that have no place in a name on a certificate or in a field an
 * MDM hands us: control characters (C0, C1, DEL, NUL), unpaired surrogates,
 * the replacement character U+FFFD (a decoder already lost something), and
 * invisible characters that change how text reads without showing
 * themselves (bidi controls such as U+202E RIGHT-TO-LEFT OVERRIDE,
 * zero-width spaces and joiners' cousins, line and paragraph separators,
 * the byte order mark). A name that displays as "admin" but holds other
 * code points misleads the person who reads it.
 */
const UNSAFE = /[\p{Cc}\p{Cs}\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffd]/u;

/** The first unsafe character as "U+XXXX", or undefined when the text is clean. */
export function unsafeCharacter(text: string): string | undefined {
  const m = UNSAFE.exec(text);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}
