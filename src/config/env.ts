/**
 * Every configuration key can be set from the environment:
 * CREDGATE_ + the key path, segments joined by "__", camelCase as SNAKE_CASE.
 *   server.port          -> CREDGATE_SERVER__PORT
 *   server.publicUrl     -> CREDGATE_SERVER__PUBLIC_URL
 *   database.url         -> CREDGATE_DATABASE__URL
 * Values are read as YAML scalars or flow collections, so numbers, booleans
 * and lists work: CREDGATE_AUTH__CLIENT_CERTIFICATES__TRUST='[a.pem, b.pem]'.
 */
import { parse } from 'yaml';
import type { z } from 'zod';

export interface EnvOverride {
  variable: string;
  path: string[];
  value: unknown;
}

const PREFIX = 'CREDGATE_';
/** Variables with a meaning of their own, not config keys (README.md, "Configuration"). */
const RESERVED = new Set(['CREDGATE_CONFIG', 'CREDGATE_MASTER_KEY']);

export function envVariableFor(path: string[]): string {
  return PREFIX + path.map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** All leaf key paths of an object schema (through defaults, optionals and unions). */
export function leafPaths(schema: z.ZodType, prefix: string[] = []): string[][] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'pipe':
      return leafPaths((def.innerType ?? def.in) as z.ZodType, prefix);
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      return Object.entries(shape).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
    }
    case 'union': {
      const seen = new Map<string, string[]>();
      for (const option of def.options as z.ZodType[]) {
        for (const p of leafPaths(option, prefix)) seen.set(p.join('.'), p);
      }
      return [...seen.values()];
    }
    default:
      return [prefix];
  }
}

export function envOverrides(schema: z.ZodType, env: NodeJS.ProcessEnv): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const path of leafPaths(schema)) {
    const variable = envVariableFor(path);
    if (RESERVED.has(variable)) continue;
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    out.push({ variable, path, value: parseValue(raw) });
  }
  return out;
}

function parseValue(raw: string): unknown {
  try {
    const v = parse(raw) as unknown;
    return v === null ? raw : v;
  } catch {
    return raw;
  }
}

/**
 * CREDGATE_* variables that set nothing: no key is named so, they have no
 * meaning of their own and no ${VAR} in the configuration takes them. Such a
 * variable is a misspelling that would otherwise be ignored without a word;
 * `referenced` are the variables the configuration files' placeholders name.
 * Each line names the variable (never its value) and the closest key's.
 */
export function unknownVariables(schema: z.ZodType, env: NodeJS.ProcessEnv, referenced: Iterable<string>): string[] {
  const keys = new Map(leafPaths(schema).map((p) => [envVariableFor(p), p.join('.')]));
  const known = new Set([...RESERVED, ...keys.keys(), ...referenced]);
  return Object.keys(env)
    .filter((v) => v.startsWith(PREFIX) && !known.has(v))
    .sort()
    .map((variable) => {
      const near = closest(variable, [...keys.keys()]);
      if (near) return `${variable} (environment): names no setting; did you mean ${near} (${keys.get(near)})?`;
      return `${variable} (environment): names no setting (a key's variable is CREDGATE_ + its path, levels joined by "__"); unset it`;
    });
}

/** The candidate within a few edits of `name` (at most a third of its length), if one is nearest. */
function closest(name: string, candidates: string[]): string | undefined {
  const body = name.slice(PREFIX.length);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(body.length / 3)));
  for (const c of candidates) {
    const d = editDistance(body, c.slice(PREFIX.length));
    if (d < bestDistance || (d === bestDistance && best === undefined)) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Edits (insertions, deletions, substitutions, swaps of neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
