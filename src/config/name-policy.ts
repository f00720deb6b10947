/**
 * The `names:` setting of SCEP profiles and the certsrv connector: where the
 * names of issued certificates come from (src/pki/name-policy.ts), written
 *
 *   names: template                      # the template's names
 *   names:
 *     source: request                    # the request's, as far as these rules allow
 *     subject: { CN: "[a-z0-9-]{1,40}", OU: { pattern: "Sales|Ops", max: 1 } }
 *     subjectAltNames: { dns: "[a-z0-9-]+\\.devices\\.example\\.com" }
 *
 * Patterns are JavaScript regular expressions matched against the whole value.
 */
import { z } from 'zod';
import {
  ALT_NAME_TYPES,
  DEFAULT_REQUEST_SUBJECT,
  patternProblem,
  valuePattern,
  type AltNameType,
  type NamePolicy,
  type NameSource,
  type ValueRule,
} from '../pki/name-policy.js';
import { unknownAttributeType } from '../pki/names.js';

const pattern = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    const problem = patternProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const valueRule = z
  .union([pattern, z.strictObject({ pattern, max: z.number().int().min(1).max(16).default(1).describe('How many values of this type a request may carry.') })])
  .describe('A pattern the whole value must match, or { pattern, max }.');

const attributeType = z.string().superRefine((type, ctx) => {
  const problem = unknownAttributeType(type);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const rule = (r: z.output<typeof valueRule>): ValueRule =>
  typeof r === 'string' ? { pattern: valuePattern(r), max: 1 } : { pattern: valuePattern(r.pattern), max: r.max };
const rules = <K extends string>(record: Partial<Record<K, z.output<typeof valueRule>>>): Partial<Record<K, ValueRule>> =>
  Object.fromEntries(Object.entries(record).map(([k, r]) => [k, rule(r as z.output<typeof valueRule>)])) as Partial<Record<K, ValueRule>>;

/** The setting as read: `source` is left out where the caller's default applies (SCEP: mdm for profiles whose challenges a connector validates, else request). */
export type NamesSetting = Omit<NamePolicy, 'source'> & { source?: NameSource };

/**
 * The setting with its defaults: subject attributes as `subject` (default
 * DEFAULT_REQUEST_SUBJECT) allows them, and subjectAltNames only as
 * `subjectAltNames` (default none) lists them.
 */
export function namesSetting(opts: {
  sources: readonly [NameSource, ...NameSource[]];
  subject?: Record<string, string>;
  subjectAltNames?: Partial<Record<AltNameType, string>>;
}) {
  const source = z.enum(opts.sources);
  const detailed = z.strictObject({
    source: source
      .optional()
      .describe("request: the request's names as the rules allow; mdm: as the MDM validated them (Intune); template: the template's, the request's ignored."),
    subject: z
      .record(attributeType, valueRule)
      .default(opts.subject ?? DEFAULT_REQUEST_SUBJECT)
      .describe('Subject attribute types a request may carry, each value matching its pattern; one of each unless max says more.'),
    subjectAltNames: z
      .partialRecord(z.enum(ALT_NAME_TYPES), valueRule)
      .default(opts.subjectAltNames ?? {})
      .describe('subjectAltName types a request may carry, each value matching its pattern; none unless listed.'),
  });
  return z
    .union([source, detailed])
    .optional()
    .transform((v): NamesSetting => {
      const d = detailed.parse(typeof v === 'string' ? { source: v } : (v ?? {}));
      return { ...(d.source && { source: d.source }), subject: rules(d.subject) as Record<string, ValueRule>, subjectAltNames: rules(d.subjectAltNames) };
    })
    .describe(
      'Where the names of issued certificates come from: a source, or { source, subject, subjectAltNames } with the rules for names taken from requests.',
    );
}
