/**
 * One exported name, one meaning: a type, class or value exported from
 * src/ or connectors/ is defined in one module only, so a reader (or an
 * editor's auto-import) never has to tell two `Delivery`s apart. Migrations
 * are exempt: knex calls each one's `up` and `down`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/cli.js';

const files = (dir: string): string[] =>
  readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));

const TYPE = /^export (?:declare )?(?:abstract )?(?:interface|type|class|enum|const enum) (\w+)/gm;
const VALUE = /^export (?:async )?(?:function\*?|const|let) (\w+)/gm;

/** Exported name -> the files that define it, for those defined in more than one. */
function definedTwice(pattern: RegExp, exempt: (file: string) => boolean = () => false): Record<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of [...files('src'), ...files('connectors')].filter((f) => !exempt(f))) {
    for (const m of readFileSync(join(REPO, file), 'utf8').matchAll(pattern)) where.set(m[1]!, [...(where.get(m[1]!) ?? []), file]);
  }
  return Object.fromEntries([...where].filter(([, fs]) => fs.length > 1));
}

test('the scanner sees exported types and values (guards the rules below)', () => {
  const text = readFileSync(join(REPO, 'src/store/sql.ts'), 'utf8');
  assert.deepEqual([...text.matchAll(TYPE)].map((m) => m[1]).slice(0, 2), ['SqlValue', 'Sql']);
  assert.ok([...text.matchAll(VALUE)].some((m) => m[1] === 'transaction'));
});

test('every exported type, interface and class name is defined once', () => {
  assert.deepEqual(definedTwice(TYPE), {});
});

test('every exported function and constant name is defined once', () => {
  assert.deepEqual(
    definedTwice(VALUE, (f) => f.startsWith('src/store/migrations/')),
    {},
  );
});
