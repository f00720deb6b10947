/**
 * The dependency rules of docs/architecture.md ("Layers"), checked on every
 * import in the tree: src/ never imports connectors/ (only src/app wires
 * them); a connector never imports another; pki/ imports nothing from
 * identity/, http/ or jobs/; nothing imports src/app.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/cli.js';

function files(dir: string): string[] {
  const abs = join(REPO, dir);
  try {
    statSync(abs);
  } catch {
    return [];
  }
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Repository-relative targets of every relative import in `file`. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.startsWith('.')) out.push(relative(REPO, resolve(REPO, dirname(file), spec)));
  }
  return out;
}

const violations = (from: string[], rule: (file: string, target: string) => string | undefined) =>
  from.flatMap((f) => importsOf(f).map((t) => rule(f, t)).filter((v): v is string => v !== undefined));

test('the import scanner sees relative imports (guards the rules below)', () => {
  const seen = importsOf('src/app/gateway.ts');
  assert.ok(seen.includes('src/http/app.js'), seen.join(', '));
  assert.ok(files('src').length > 20);
});

test('src/ outside src/app never imports connectors/', () => {
  const found = violations(
    files('src').filter((f) => !f.startsWith('src/app/')),
    (f, t) => (t.startsWith('connectors/') ? `${f} -> ${t}` : undefined),
  );
  assert.deepEqual(found, []);
});

test('a connector never imports another connector', () => {
  const found = violations(files('connectors'), (f, t) => {
    const own = f.split('/')[1];
    const target = t.split('/');
    return target[0] === 'connectors' && target.length > 2 && target[1] !== own ? `${f} -> ${t}` : undefined;
  });
  assert.deepEqual(found, []);
});

test('pki/ imports nothing from identity/, http/ or jobs/', () => {
  const found = violations(files('src/pki'), (f, t) => (/^src\/(identity|http|jobs)\//.test(t) ? `${f} -> ${t}` : undefined));
  assert.deepEqual(found, []);
});

test('only src/app wires concrete implementations: no other layer imports src/app', () => {
  const found = violations(
    [...files('src'), ...files('connectors')].filter((f) => !f.startsWith('src/app/')),
    (f, t) => (t.startsWith('src/app/') ? `${f} -> ${t}` : undefined),
  );
  assert.deepEqual(found, []);
});
