/**
 * The secret values of a validated settings object, found by the marks of
 * its schema (secret.ts), and their removal from text meant for operators:
 * what a connector check reports comes partly from the vendor and from
 * client libraries, which may quote what they were given.
 */
import type { z } from 'zod';
import { isSecret } from './secret.js';

const CENSOR = '[Redacted]';
const URL_WITH_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Of a URL, the parts that carry credentials (password, query values); of anything else, all of it. */
function secretParts(value: string): string[] {
  if (!URL_WITH_AUTHORITY.test(value)) return [value];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [value];
  }
  const parts = [url.password, ...[...url.searchParams.values()]];
  return [...parts, ...parts.map(decoded)];
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a stray % is kept as written
  }
}

function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

/** Every secret string in `value`, which `schema` validated. */
export function secretValues(schema: z.ZodType, value: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown, path: PropertyKey[]) => {
    if (path.length > 0 && isSecret(schema, path)) {
      found.push(...stringsIn(v).flatMap(secretParts));
      return;
    }
    if (v && typeof v === 'object') for (const [k, child] of Object.entries(v)) walk(child, [...path, Array.isArray(v) ? Number(k) : k]);
  };
  walk(value, []);
  return [...new Set(found.filter((s) => s !== ''))];
}

/** `text` with the user and password of every URL in it censored. */
export function withoutCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, `$1${CENSOR}@`);
}

/** `text` without any of `secrets`, nor the user and password of a URL in it. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.replaceAll(s, CENSOR);
  return withoutCredentials(out);
}
