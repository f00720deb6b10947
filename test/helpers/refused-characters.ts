/** Characters no vendor field or name may carry (src/util/unsafe-text.ts), each with how a refusal names it. */
export const REFUSED_CHARACTERS: [what: string, character: string, named: RegExp][] = [
  ['right-to-left override', '\u202e', /bidirectional control character \(U\+202E\)/],
  ['NUL', '\u0000', /control character \(U\+0000\)/],
  ['replacement character', '\ufffd', /U\+FFFD/],
  ['C1 control (NEL)', '\u0085', /control character \(U\+0085\)/],
  ['unpaired surrogate', '\ud800', /unpaired surrogate/],
];
