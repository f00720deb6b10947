/**
 * The dependency rules of docs/architecture.md ("Layers"), checked on every
 * import in the tree: src/ never imports connectors/ (only src/app wires
 * them, through one registry) nor names a connector's kind; a connector
 * never imports another; pki/ imports nothing from identity/, http/ or
 * jobs/; nothing imports src/app.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { CONNECTOR_MODULES } from '../../src/app/connector-registry.js';
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
  from.flatMap((f) =>
    importsOf(f)
      .map((t) => rule(f, t))
      .filter((v): v is string => v !== undefined),
  );

test('the import scanner sees relative imports (guards the rules below)', () => {
  const seen = importsOf('src/app/gateway.ts');
  assert.ok(seen.includes('src/store/db.js'), seen.join(', '));
  assert.ok(files('src').length > 20);
});

test('src/ outside src/app never imports connectors/', () => {
  const found = violations(
    files('src').filter((f) => !f.startsWith('src/app/')),
    (f, t) => (t.startsWith('connectors/') ? `${f} -> ${t}` : undefined),
  );
  assert.deepEqual(found, []);
});

const REGISTRY = 'src/app/connector-registry.ts';

test('under src/, only the connector registry imports connectors/', () => {
  const found = violations(
    files('src').filter((f) => f !== REGISTRY),
    (f, t) => (t.startsWith('connectors/') ? `${f} -> ${t}` : undefined),
  );
  assert.deepEqual(found, []);
});

/** Every string literal in `file`'s code, comments left out. */
function stringLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(REPO, file), 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

test('the literal scanner sees string literals and skips comments (guards the rule below)', () => {
  const seen = stringLiterals('src/app/connectors.ts');
  assert.ok(seen.includes('../config/load.js'), 'an import specifier is a string literal');
  assert.ok(!seen.some((s) => s.includes('config/connectors/<id>.yaml')), 'the header comment is not');
});

test('no code under src/ outside the registry names a connector kind: vendors plug in through ConnectorModule hooks', () => {
  const kinds = CONNECTOR_MODULES.map((m) => m.kind);
  assert.ok(kinds.length >= 4);
  const found = files('src')
    .filter((f) => f !== REGISTRY)
    .flatMap((f) =>
      stringLiterals(f)
        .filter((s) => kinds.includes(s))
        .map((s) => `${f}: '${s}'`),
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
