/** Turns schema issues into sentences that say what is expected and what was found. */
import type { z } from 'zod';

/** Credentials in a URL (scheme://user:password@host) are never repeated. */
const withoutUserinfo = (s: string): string => {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(s);
  const at = s.lastIndexOf('@');
  return scheme && at > scheme[0].length ? `${scheme[0]}***${s.slice(at)}` : s;
};

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(withoutUserinfo(v));
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
};

/** What kind of value it is, for values that must not be shown. */
const kind = (v: unknown): string => {
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'true or false';
  return show(v);
};

const oneOf = (values: readonly unknown[]): string =>
  values.length === 1
    ? JSON.stringify(values[0])
    : `${values
        .slice(0, -1)
        .map((v) => JSON.stringify(v))
        .join(', ')} or ${JSON.stringify(values[values.length - 1])}`;

/**
 * `hide`: the value is a secret or came from the environment; the sentence then
 * says what is wrong without it (and zod's own wording never holds the value).
 */
export function formatIssue(issue: z.core.$ZodIssue, got: unknown, opts: { hide?: boolean } = {}): string {
  const found = opts.hide ? '' : `, got ${show(got)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (got === undefined) return `required: expected ${issue.expected}`;
      return `expected ${issue.expected}, got ${opts.hide ? kind(got) : show(got)}`;
    case 'invalid_value':
      return `expected ${oneOf(issue.values)}${found}`;
    case 'invalid_union': {
      const options = (issue as unknown as { options?: unknown[] }).options;
      if (options) return `expected ${oneOf(options)}${found}`;
      return `${issue.message}${found}`;
    }
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (misspelt?)`;
    case 'too_small':
      return issue.origin === 'array' ? `expected at least ${String(issue.minimum)} entries` : `${issue.message}${found}`;
    case 'custom':
      return got === undefined ? issue.message : `${issue.message}${found}`;
    default:
      return `${issue.message}${found}`;
  }
}
