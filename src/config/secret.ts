/**
 * Settings that hold secrets (passwords, challenges, client secrets, keys,
 * URLs and headers that may carry credentials) are marked once, where the
 * schema declares them, so that no error message repeats their value.
 */
import { z } from 'zod';

const secrets = z.registry<{ secret: true }>();

/** Marks a schema as holding a secret; `.describe()` clones keep the mark. */
export function secret<S extends z.ZodType>(schema: S): S {
  secrets.add(schema, { secret: true });
  return schema;
}

type Def = Record<string, unknown> & { type: string };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const marked = (schema: z.ZodType): boolean => secrets.get(schema)?.secret === true;

/** The schema itself, then what it wraps (optional, default, pipe...), outermost first. */
function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [];
  for (let s: z.ZodType | undefined = schema; s; ) {
    out.push(s);
    const def = defOf(s);
    s = (def.innerType ?? def.in) as z.ZodType | undefined;
  }
  return out;
}

/** Schemas a value of `schema` may hold at key `key`. */
function children(schema: z.ZodType, key: PropertyKey): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return [(def.shape as Record<PropertyKey, z.ZodType>)[key]].filter((s): s is z.ZodType => s !== undefined);
    case 'record':
      return [def.valueType as z.ZodType];
    case 'array':
      return [def.element as z.ZodType];
    case 'union':
      return (def.options as z.ZodType[]).flatMap((o) => layers(o).flatMap((l) => children(l, key)));
    default:
      return [];
  }
}

/** Whether anything inside `schema` is marked (a union with a secret option, a list of users with passwords). */
function holdsSecret(schema: z.ZodType, seen = new Set<z.ZodType>()): boolean {
  if (seen.has(schema)) return false;
  seen.add(schema);
  if (marked(schema)) return true;
  const def = defOf(schema);
  const nested = [
    def.innerType,
    def.in,
    def.out,
    def.valueType,
    def.element,
    ...((def.options as unknown[] | undefined) ?? []),
    ...Object.values((def.shape as Record<string, unknown> | undefined) ?? {}),
  ];
  return nested.some((s) => s !== undefined && holdsSecret(s as z.ZodType, seen));
}

/** The schemas that may describe the value at `path`, and whether an enclosing value is already secret. */
function walk(schema: z.ZodType, path: readonly PropertyKey[]): { inside: boolean; at: z.ZodType[] } {
  let at = [schema];
  for (const key of path) {
    if (at.some((s) => layers(s).some(marked))) return { inside: true, at: [] };
    at = at.flatMap((s) => layers(s).flatMap((l) => children(l, key)));
  }
  return { inside: false, at };
}

/** Whether the value at `path` is marked secret or lies inside a marked value. */
export function isSecret(schema: z.ZodType, path: readonly PropertyKey[]): boolean {
  const { inside, at } = walk(schema, path);
  return inside || at.some((s) => layers(s).some(marked));
}

/**
 * Whether the value at `path` is secret or may hold one: a value that failed
 * validation may be a secret put in the wrong place, such as a challenge
 * written where `{ static: ... }` belongs.
 */
export function mayHoldSecret(schema: z.ZodType, path: readonly PropertyKey[]): boolean {
  const { inside, at } = walk(schema, path);
  return inside || at.some((s) => holdsSecret(s));
}
