/**
 * Every setting named like a secret, in credgate.yaml and in each connector
 * schema, is marked secret, so that no configuration error shows its value;
 * a setting added later without the mark fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import { citrixSchema } from '../../connectors/citrix/schema.js';
import { intuneSchema } from '../../connectors/intune/schema.js';
import { mobileIronSchema } from '../../connectors/mobileiron/schema.js';
import { workspaceOneSchema } from '../../connectors/workspace-one/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { isSecret, mayHoldSecret } from '../../src/config/secret.js';

/** Matched against the key path: the last key, or any header of a list of headers. */
const SECRET_NAME = /(pass(word|phrase)|secret|token|\.masterKey|\.tenantCode|\.static|\.headers\.\*)$/i;

/** Key paths of every setting, "*" standing for a record key or list index. */
function settings(schema: z.ZodType, path: string[] = [], seen = new Set<z.ZodType>()): string[][] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const inner = (def.innerType ?? def.in) as z.ZodType | undefined;
  if (inner) return settings(inner, path, seen);
  switch (def.type) {
    case 'object':
      return [path, ...Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) => settings(v, [...path, k], seen))];
    case 'record':
      return [path, ...settings(def.valueType as z.ZodType, [...path, '*'], seen)];
    case 'array':
      return [path, ...settings(def.element as z.ZodType, [...path, '*'], seen)];
    case 'union':
      return [path, ...(def.options as z.ZodType[]).flatMap((o) => settings(o, path, seen))];
    default:
      return [path];
  }
}

for (const [name, schema] of Object.entries({
  'credgate.yaml': configSchema,
  citrix: citrixSchema,
  intune: intuneSchema,
  mobileiron: mobileIronSchema,
  'workspace-one': workspaceOneSchema,
})) {
  test(`${name}: every setting named like a secret is marked secret`, () => {
    const named = settings(schema as z.ZodType).filter((p) => SECRET_NAME.test(p.join('.')));
    assert.ok(named.length > 0);
    const unmarked = named.filter((p) => !isSecret(schema as z.ZodType, p)).map((p) => p.join('.'));
    assert.deepEqual(unmarked, []);
  });
}

test('URLs that may carry credentials are secret; the settings around them are not', () => {
  assert.ok(isSecret(configSchema, ['database', 'url']));
  assert.ok(isSecret(configSchema, ['notify', 'sms', 'url']));
  assert.ok(isSecret(mobileIronSchema, ['broker', 'url']));
  assert.ok(!isSecret(configSchema, ['database', 'client']));
  assert.ok(!isSecret(configSchema, ['auth', 'basic', 0, 'username']));
  // A challenge in the wrong shape may still be the secret itself.
  assert.ok(!isSecret(configSchema, ['scep', 'profiles', 'default', 'challenge']));
  assert.ok(mayHoldSecret(configSchema, ['scep', 'profiles', 'default', 'challenge']));
  assert.ok(!mayHoldSecret(configSchema, ['scep', 'profiles', 'default', 'template']));
});
