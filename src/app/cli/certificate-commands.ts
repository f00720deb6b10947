/**
 * `credgate certificates import | imported | delete-import`: a person's
 * certificates issued elsewhere, uploaded with their keys, as an
 * administrator scripts it on the gateway's host (the admin API's
 * /api/v1/users/{user}/certificates does the same over HTTPS). The
 * PKCS#12's password is read from a file, never from the command line,
 * where other users of the host could see it in the process list.
 */
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { type UnmanagedView, UNMANAGED_PURPOSES, type UnmanagedCertificates } from '../../identity/unmanaged-certificates.js';
import { MAX_PKCS12_BYTES } from '../../pki/pkcs12-reader.js';
import type { CertificatePurpose } from '../../pki/presets.js';
import { Refusal } from '../../util/refusal.js';
import { context } from '../context.js';
import { openDatabase } from '../database.js';
import { StartupError } from '../errors.js';
import { buildIssuance } from '../issuance.js';
import { loadMasterKey } from '../pki-setup.js';

const print = (text: string) => process.stdout.write(`${text}\n`);

function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

async function withUploads<T>(opts: { config?: string }, fn: (uploads: UnmanagedCertificates) => Promise<T>): Promise<T> {
  const { config, log } = context(opts);
  const masterKey = loadMasterKey(config, { create: false });
  const db = await openDatabase(config.database, log);
  try {
    const baseUrl = (config.server.publicUrl ?? `https://localhost:${config.server.port}`).replace(/\/$/, '');
    // What the command did is its own output (and the audit trail's); the services' info lines would mix into a script's stdout.
    const quiet = log.child({}, { level: 'warn' });
    return await fn(buildIssuance({ config, db, masterKey, baseUrl, log: quiet }).unmanaged);
  } catch (err) {
    // A refusal (wrong password, expired, no such user) is the operator's to fix: one line, exit 2.
    if (err instanceof Refusal) throw new StartupError(err.message);
    throw err;
  } finally {
    await db.destroy();
  }
}

function readInput(path: string, what: string, max: number): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new StartupError(`${what} ${path} cannot be read`);
  }
  if (size > max) throw new StartupError(`${what} ${path} is ${size} bytes; at most ${max} are accepted`);
  return readFileSync(path);
}

const line = (c: UnmanagedView) =>
  [c.serial.padEnd(40), c.purpose.padEnd(14), c.state.padEnd(10), c.notAfter.padEnd(24), c.subject, `(issuer: ${c.issuer})`].join(' ');

export async function certificatesImport(
  user: string,
  file: string,
  opts: { config?: string; purpose: string; passwordFile?: string; note?: string; json?: boolean },
): Promise<void> {
  if (!UNMANAGED_PURPOSES.includes(opts.purpose as CertificatePurpose)) throw new StartupError(`--purpose must be one of ${UNMANAGED_PURPOSES.join(', ')}`);
  const pkcs12 = readInput(file, 'PKCS#12 file', MAX_PKCS12_BYTES);
  // One trailing newline is what `echo` and editors leave; the password itself is kept as written.
  const password = opts.passwordFile
    ? readInput(opts.passwordFile, 'password file', 4096)
        .toString('utf8')
        .replace(/\r?\n$/, '')
    : '';
  const uploaded = await withUploads(opts, (u) =>
    u.upload(cliActor(), user, { pkcs12, password, purpose: opts.purpose as CertificatePurpose, note: opts.note }),
  );
  for (const warning of uploaded.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
  if (opts.json) print(JSON.stringify(uploaded, null, 2));
  else
    print(
      `imported ${uploaded.purpose} certificate ${uploaded.serial} for ${uploaded.userName}: ${uploaded.subject} (issuer: ${uploaded.issuer}), valid until ${uploaded.notAfter}`,
    );
}

export async function certificatesImported(user: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const list = await withUploads(opts, (u) => u.list(user));
  if (opts.json) {
    print(JSON.stringify(list, null, 2));
    return;
  }
  print(['SERIAL'.padEnd(40), 'PURPOSE'.padEnd(14), 'STATE'.padEnd(10), 'NOT AFTER'.padEnd(24), 'SUBJECT'].join(' '));
  for (const c of list) print(line(c));
}

export async function certificatesDeleteImport(user: string, serial: string, opts: { config?: string; note?: string }): Promise<void> {
  const removed = await withUploads(opts, (u) => u.remove(cliActor(), user, serial, opts.note));
  print(
    `deleted ${removed.purpose} certificate ${removed.serial} of ${removed.userName} and its key; copies already on devices stay valid until ${removed.notAfter} unless its issuer revokes it`,
  );
}
