/**
 * Where the names in a certificate come from, for the paths where an
 * enrollee sends a request of its own (SCEP, certsrv). A request only ever
 * proposes names; the policy decides which of them, if any, are certified:
 *
 * - `request`: the request's subject and subjectAltNames, but only the
 *   attribute and name types the policy lists, each value matching its
 *   pattern, at most `max` of each. Anything else refuses the request.
 * - `mdm`: the request's names as the MDM validated them (Intune's
 *   validateRequest checks that the request's attributes are the ones its
 *   SCEP profile expects); the type rules do not apply, clean text does.
 * - `template`: the template's names; the request's are ignored.
 *
 * A challenge bound to subject attributes binds exactly: each bound type is
 * present once, with exactly the bound value; an exact binding (iOS OTA) is
 * the whole subject, with no other attribute and no subjectAltName.
 * Whatever the source, every value is checked for characters that do not
 * belong in a name (../util/unsafe-text.ts). Key usage, extended key usage
 * and basicConstraints never come from a request: the template's preset
 * sets them (issuer.ts).
 */
import type { CsrSubjectAltName, ParsedCsr } from './csr.js';
import type { AltName } from './extensions.js';
import type { NameAttribute } from './certificate.js';
import { attributeOid } from './names.js';
import { unsafeCharacter } from '../util/unsafe-text.js';

export type NameSource = 'request' | 'mdm' | 'template';
export type AltNameType = AltName['type'];
export const ALT_NAME_TYPES = ['email', 'dns', 'uri', 'ip', 'upn'] as const satisfies readonly AltNameType[];

export interface ValueRule {
  /** Matched against the whole value. */
  pattern: RegExp;
  /** How many values of this type a request may carry. */
  max: number;
}

export interface NamePolicy {
  source: NameSource;
  /** By attribute type as configured (CN, O, serialNumber, a dotted OID). */
  subject: Record<string, ValueRule>;
  subjectAltNames: Partial<Record<AltNameType, ValueRule>>;
}

/** Subject attributes a one-time challenge was bound to. */
export interface NameBinding {
  attributes: Record<string, string>;
  /** The bound attributes are the whole subject: nothing else, no subjectAltName. */
  exact: boolean;
}

export interface RequestedNames {
  subject: NameAttribute[];
  subjectAltNames: AltName[];
}

export type NameDecision = { ok: true; names: RequestedNames } | { ok: false; reason: string };

/**
 * Text a person would recognise as a name: letters and digits of any script,
 * spaces and a little punctuation. No DN specials (`,` `+` `=` `"` `\` `<`
 * `>` `;` `#`), so no certificate of ours reads as another name to software
 * that splits DN strings.
 */
export const NAME_TEXT = "[\\p{L}\\p{N}][\\p{L}\\p{N}\\p{M} '&()./:?@_-]{0,63}";

/** What a request may name on the SCEP profiles as shipped: what scepclient, certmonger and iOS send, no subjectAltName. */
export const DEFAULT_REQUEST_SUBJECT: Record<string, string> = {
  CN: NAME_TEXT,
  O: NAME_TEXT,
  OU: NAME_TEXT,
  L: NAME_TEXT,
  ST: NAME_TEXT,
  C: '[A-Z]{2}',
  serialNumber: '[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}',
};

/** A configured pattern, anchored: an unanchored "ok" must not accept "not ok". */
export const valuePattern = (source: string): RegExp => new RegExp(`^(?:${source})$`, 'u');

/** Why a configured pattern is unusable, or undefined (config validation). */
export function patternProblem(source: string): string | undefined {
  try {
    valuePattern(source);
    return undefined;
  } catch (err) {
    return `not a regular expression: ${(err as Error).message}`;
  }
}

const oidOf = (type: string): string => attributeOid(type) ?? type;

/** The names a certificate for this request may carry under `policy`, or why the request is refused. */
export function decideNames(policy: NamePolicy, csr: ParsedCsr, binding?: NameBinding): NameDecision {
  const refuse = (reason: string): NameDecision => ({ ok: false, reason });
  if (csr.otherAltNames.length) return refuse(`the request asks for subjectAltName forms that are never certified: ${csr.otherAltNames.join(', ')}`);

  for (const a of csr.subject) {
    const bad = unsafeCharacter(a.value);
    if (bad) return refuse(`subject ${a.type} has ${bad.description}`);
  }
  for (const n of csr.subjectAltNames) {
    const bad = unsafeCharacter(n.value);
    if (bad) return refuse(`subjectAltName ${n.type} has ${bad.description}`);
  }

  const bound = new Map(Object.entries(binding?.attributes ?? {}).map(([type, value]) => [oidOf(type), { type, value }]));
  for (const [oid, b] of bound) {
    const values = csr.subject.filter((a) => oidOf(a.type) === oid);
    if (values.length !== 1 || values[0]!.value !== b.value) {
      return refuse(`the challenge is bound to ${b.type}=${b.value}; the request must carry exactly that ${b.type} and no other`);
    }
  }
  if (binding?.exact) {
    const extra = csr.subject.find((a) => !bound.has(oidOf(a.type)));
    if (extra) return refuse(`the challenge names the whole subject; the request adds ${extra.type}`);
    if (csr.subjectAltNames.length) return refuse('the challenge names the whole subject; the request adds subjectAltNames');
  }

  if (policy.source === 'request') {
    const rules = new Map(Object.entries(policy.subject).map(([type, rule]) => [oidOf(type), { type, rule }]));
    const counts = new Map<string, number>();
    for (const a of csr.subject) {
      const oid = oidOf(a.type);
      counts.set(oid, (counts.get(oid) ?? 0) + 1);
      if (bound.has(oid)) continue; // the binding decided it above
      const r = rules.get(oid);
      if (!r) return refuse(`the request's subject carries ${a.type}, which this policy does not take from requests`);
      if (!r.rule.pattern.test(a.value)) return refuse(`the request's ${a.type} "${a.value}" does not match the policy's pattern`);
    }
    for (const [oid, n] of counts) {
      const r = rules.get(oid);
      if (r && !bound.has(oid) && n > r.rule.max) return refuse(`the request carries ${n} ${r.type} attributes; the policy allows ${r.rule.max}`);
    }
    const sanCounts = new Map<AltNameType, number>();
    for (const n of csr.subjectAltNames) {
      const rule = policy.subjectAltNames[n.type];
      if (!rule) return refuse(`the request asks for a ${n.type} subjectAltName, which this policy does not take from requests`);
      if (!rule.pattern.test(n.value)) return refuse(`the request's ${n.type} subjectAltName "${n.value}" does not match the policy's pattern`);
      sanCounts.set(n.type, (sanCounts.get(n.type) ?? 0) + 1);
    }
    for (const [type, n] of sanCounts) {
      const max = policy.subjectAltNames[type]!.max;
      if (n > max) return refuse(`the request carries ${n} ${type} subjectAltNames; the policy allows ${max}`);
    }
  }
  if (csr.subject.length === 0 && csr.subjectAltNames.length === 0) return refuse('the request names nobody: its subject is empty');
  return { ok: true, names: { subject: csr.subject, subjectAltNames: csr.subjectAltNames.map(asAltName) } };
}

const asAltName = (n: CsrSubjectAltName): AltName => n as AltName;
