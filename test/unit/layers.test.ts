/**
 * The layer table of docs/architecture.md ("Layers") holds for the code:
 * every relative import in src/ and connectors/ goes to a layer its row
 * allows, and every folder of src/ has a row. The rules are read from the
 * document, so what it tells a reader is what this test enforces.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO } from '../helpers/cli.js';

interface Row {
  layer: string;
  allows: string[] | 'anything';
}

/** The table under "## Layers": one row per `layer`, its third cell what it may import. */
function layerTable(): Row[] {
  const doc = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Layers\n'));
  assert.ok(section, 'docs/architecture.md has a "## Layers" section');
  return section.split('\n').flatMap((line) => {
    const cells = line.split('|').map((c) => c.trim());
    const layer = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!layer || cells.length < 6) return [];
    const may = cells[3]!;
    return [{ layer, allows: may === 'anything' ? 'anything' : [...may.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) }];
  });
}

const within = (path: string, layer: string) => path === layer || path.startsWith(`${layer}/`);

/** The row a path belongs to: the longest layer that holds it. */
const rowOf = (rows: Row[], path: string): Row | undefined => rows.filter((r) => within(path, r.layer)).sort((a, b) => b.layer.length - a.layer.length)[0];

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Repository-relative targets of the relative imports, exports and dynamic imports of `file`, as TypeScript reads them. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(REPO, file), 'utf8'), true, true);
  return importedFiles.filter((i) => i.fileName.startsWith('.')).map((i) => relative(REPO, resolve(REPO, dirname(file), i.fileName)));
}

test('the table has a row for every folder of src/ and for connectors/, and names only layers it has', () => {
  const rows = layerTable();
  const layers = rows.map((r) => r.layer);
  const folders = readdirSync(join(REPO, 'src'))
    .filter((f) => statSync(join(REPO, 'src', f)).isDirectory())
    .map((f) => `src/${f}`);
  assert.deepEqual(
    folders.filter((f) => !layers.includes(f)),
    [],
    'folders of src/ without a row in docs/architecture.md',
  );
  assert.ok(layers.includes('connectors'));
  for (const r of rows) {
    assert.ok(statSync(join(REPO, r.layer), { throwIfNoEntry: false })?.isDirectory(), `${r.layer} is a folder`);
    if (r.allows !== 'anything') for (const a of r.allows) assert.ok(layers.includes(a), `${r.layer} may import ${a}, which has no row`);
  }
});

test('the import reader sees imports, exports and dynamic imports (guards the rule below)', () => {
  const seen = importsOf('src/app/listeners.ts');
  assert.ok(seen.includes('src/http/app.js'), seen.join(', '));
  assert.ok(importsOf('src/store/db.ts').some((t) => within(t, 'src/store/migrations')));
});

test('every relative import goes to a layer the importing row of docs/architecture.md allows', () => {
  const rows = layerTable();
  const found = [...sources('src'), ...sources('connectors')].flatMap((file) => {
    const from = rowOf(rows, file)!;
    if (from.allows === 'anything') return [];
    const allows = from.allows;
    return importsOf(file).flatMap((target) => {
      const to = rowOf(rows, target);
      if (to === from || (to && allows.some((a) => within(to.layer, a)))) return [];
      return [`${file} -> ${target}: the ${from.layer} row allows ${allows.length ? allows.join(', ') : 'nothing'}`];
    });
  });
  assert.deepEqual(found, []);
});
