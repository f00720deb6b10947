/** Turns schema issues into sentences that say what is expected and what was found. */
import type { z } from 'zod';

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
};

const oneOf = (values: readonly unknown[]): string =>
  values.length === 1
    ? JSON.stringify(values[0])
    : `${values.slice(0, -1).map((v) => JSON.stringify(v)).join(', ')} or ${JSON.stringify(values[values.length - 1])}`;

export function formatIssue(issue: z.core.$ZodIssue, got: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (got === undefined) return `required: expected ${issue.expected}`;
      return `expected ${issue.expected}, got ${show(got)}`;
    case 'invalid_value':
      return `expected ${oneOf(issue.values)}, got ${show(got)}`;
    case 'invalid_union': {
      const options = (issue as unknown as { options?: unknown[] }).options;
      if (options) return `expected ${oneOf(options)}, got ${show(got)}`;
      return `${issue.message}, got ${show(got)}`;
    }
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (misspelt?)`;
    case 'too_small':
      return issue.origin === 'array' ? `expected at least ${String(issue.minimum)} entries` : `${issue.message}, got ${show(got)}`;
    case 'custom':
      return got === undefined ? issue.message : `${issue.message}, got ${show(got)}`;
    default:
      return `${issue.message}, got ${show(got)}`;
  }
}
