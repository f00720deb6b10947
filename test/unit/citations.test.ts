/**
 * The repository explains itself: no tracked file cites a document that is
 * not in it (design notes, vendor contracts or numbered sections of product
 * guides kept elsewhere), and every docs/ page a file names is here, down to
 * the section of docs/architecture.md it quotes. Code and configuration cite
 * files of the repository, RFCs, or public vendor documents by title.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/cli.js';

/** Citations of what lives outside the repository, each with what to cite instead. */
const OUTSIDE: { pattern: RegExp; instead: string }[] = [
  { pattern: /\bDESIGN\.md\b/i, instead: 'docs/architecture.md' },
  { pattern: /\bshared\/contracts\b/, instead: 'docs/vendors/<vendor>.md' },
  { pattern: /\bshared\/(?:seeds|bench)\b|\.\.\/shared\b/, instead: 'a file of the repository, or the public document by title' },
  // "seed" and a section number (2.4, 5) or a document number (000); a fuzz test's seed is a long number.
  { pattern: /\bseeds? (?:\d+(?:\.\d+)+|\d{1,3})\b/i, instead: 'the behaviour itself, or the public document by title' },
];

/** Every tracked text file, as it is in the working tree. */
function trackedTexts(): { file: string; text: string }[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && f !== 'package-lock.json' && existsSync(join(REPO, f)))
    .map((file) => ({ file, text: readFileSync(join(REPO, file), 'utf8') }))
    .filter(({ text }) => !text.includes('\0'));
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** A quoted section name as written, which a comment may break across lines. */
const unwrapped = (quoted: string) => quoted.replace(/\s*\n\s*(?:\*|\/\/|#)?\s*/g, ' ').trim();

test('the file list holds the sources, tests, configuration and documents (guards the checks below)', () => {
  const files = trackedTexts().map((t) => t.file);
  for (const f of [
    'README.md',
    'config/credgate.yaml',
    'config/credgate.schema.json',
    'src/config/schema.ts',
    'connectors/README.md',
    'test/unit/citations.test.ts',
  ]) {
    assert.ok(files.includes(f), f);
  }
});

test('no tracked file cites a document that is not in the repository', () => {
  const found = trackedTexts().flatMap(({ file, text }) =>
    OUTSIDE.flatMap(({ pattern, instead }) =>
      [...text.matchAll(new RegExp(pattern.source, `${pattern.flags}g`))].map((m) => `${file}:${lineOf(text, m.index)}: "${m[0]}" (cite ${instead})`),
    ),
  );
  assert.deepEqual(found, []);
});

test('every docs/ page a tracked file names exists, and every section of docs/architecture.md it quotes', () => {
  const architecture = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
  const headings = new Set([...architecture.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.trim()));
  const found = trackedTexts().flatMap(({ file, text }) => [
    ...[...text.matchAll(/\bdocs\/[\w./-]+\.md\b/g)]
      .filter((m) => !existsSync(join(REPO, m[0])))
      .map((m) => `${file}:${lineOf(text, m.index)}: ${m[0]} does not exist`),
    ...[...text.matchAll(/docs\/architecture\.md(?:,|\s*\()[\s*/#]*"([^"]+)"/g)]
      .filter((m) => !headings.has(unwrapped(m[1]!)))
      .map((m) => `${file}:${lineOf(text, m.index)}: docs/architecture.md has no section "${unwrapped(m[1]!)}"`),
  ]);
  assert.deepEqual(found, []);
});
