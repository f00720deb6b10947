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
/** Variables with a meaning of their own, not config keys. */
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
