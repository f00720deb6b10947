/**
 * src/store/sql.ts's rule, checked on every signature in the tree: a
 * parameter that carries a transaction says by its type which of the two
 * transaction helpers it comes from (Sql, Knex.Transaction) or that it takes
 * either or the database alone (KnexTarget, SqlTarget).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/cli.js';

const NAMED = new Set(['Sql', 'Knex.Transaction', 'KnexTarget', 'SqlTarget']);

const sources = ['src', 'connectors'].flatMap((dir) =>
  readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f)),
);

/** `file:line name: type` for each parameter named trx, target or sql (a Sql outside the module that defines it). */
function transactionParameters(): { where: string; type: string }[] {
  const out: { where: string; type: string }[] = [];
  for (const file of sources) {
    readFileSync(join(REPO, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/(?:^|[(,])\s*(trx|target|sql)\??: ([A-Za-z][^,)=]*?)\s*(?=[,)=])/g)) {
          if (m[1] === 'sql' && m[2] === 'string' && file === join('src', 'store', 'sql.ts')) continue;
          out.push({ where: `${file}:${i + 1} ${m[1]}: ${m[2]}`, type: m[2]! });
        }
      });
  }
  return out;
}

test('the scanner sees transaction parameters (guards the rule below)', () => {
  const seen = transactionParameters().map((p) => p.where);
  assert.ok(
    seen.some((w) => w.startsWith(join('src', 'store', 'audit.ts')) && w.endsWith('target: SqlTarget')),
    seen.join('\n'),
  );
  assert.ok(
    seen.some((w) => w.startsWith(join('connectors', 'citrix', 'store.ts')) && w.endsWith('sql: Sql')),
    seen.join('\n'),
  );
});

test('every transaction parameter names its helper: Sql, Knex.Transaction, KnexTarget or SqlTarget', () => {
  assert.deepEqual(
    transactionParameters()
      .filter((p) => !NAMED.has(p.type))
      .map((p) => p.where),
    [],
  );
});
