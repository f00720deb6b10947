/**
 * Looks for secrets where they must never be: log lines, what a command
 * printed, and every row of every table of the database. Each secret is
 * looked for as it is and in the encodings a careless writer would use
 * (base64, base64url, hex, percent-encoding), so a secret stored or logged
 * in another dress is still found. Private keys are looked for by their
 * private parts: the private exponent and a prime.
 */
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import type { Knex } from 'knex';

export interface Secret {
  what: string;
  value: string | Buffer;
}

/** The forms of one secret worth searching for. */
function forms(value: string | Buffer): string[] {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
  const out = new Set<string>([bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')]);
  if (typeof value === 'string') {
    out.add(value);
    out.add(encodeURIComponent(value));
  }
  return [...out].filter((f) => f.length >= 6);
}

/** What identifies a private key in any dump: its private exponent and first prime (JWK `d`, `p`), not the public modulus. */
export function keySecrets(what: string, key: KeyObject): Secret[] {
  const jwk = key.export({ format: 'jwk' });
  return [
    { what: `${what} (private exponent)`, value: Buffer.from(jwk.d!, 'base64url').subarray(0, 48) },
    ...(jwk.p ? [{ what: `${what} (prime)`, value: Buffer.from(jwk.p, 'base64url').subarray(0, 48) }] : []),
  ];
}

/** A cell as text; base64 (such as a stored request) also decoded, so a secret at any offset inside it shows. */
function cellText(v: unknown): string {
  if (Buffer.isBuffer(v)) return `${v.toString('latin1')} ${v.toString('base64')}`;
  const text = String(v);
  return /^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(text) ? `${text} ${Buffer.from(text, 'base64').toString('latin1')}` : text;
}

/** Every row of every table, as text. */
export async function dumpDatabase(db: Knex): Promise<string> {
  const client = String(db.client.config.client);
  const tables =
    client === 'better-sqlite3' || client === 'sqlite3'
      ? ((await db.raw("SELECT name FROM sqlite_master WHERE type = 'table'")) as { name: string }[]).map((r) => r.name)
      : ((await db.raw('SHOW TABLES'))[0] as Record<string, string>[]).map((r) => Object.values(r)[0]!);
  const parts: string[] = [];
  for (const table of tables) {
    for (const row of (await db(table).select()) as Record<string, unknown>[]) {
      parts.push(`${table}: ${Object.values(row).map(cellText).join(' | ')}`);
    }
  }
  return parts.join('\n');
}

/** Asserts that no secret appears, in any form, in any of the places given (name -> text). */
export function assertNoSecrets(secrets: Secret[], places: Record<string, string>): void {
  assert.ok(secrets.length > 0, 'a scan needs secrets to look for');
  const found: string[] = [];
  for (const s of secrets) {
    for (const form of forms(s.value)) {
      for (const [place, text] of Object.entries(places)) if (text.includes(form)) found.push(`${s.what} in ${place} (as ${form.slice(0, 12)}…)`);
    }
  }
  assert.deepEqual(found, [], 'secrets found in clear');
}
