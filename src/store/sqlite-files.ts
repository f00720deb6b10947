/**
 * The SQLite database holds wrapped private keys, one-time-code HMACs and
 * personal data, so it is the owner's alone: the file is made 0600 before
 * SQLite first opens it (SQLite gives its -wal and -shm files the database
 * file's mode) and a directory made for it is 0700. A database, -wal or -shm
 * file found open to group or others, as earlier versions left them, is
 * narrowed to 0600; the caller says so in the log.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Narrowed {
  file: string;
  /** The mode it had, e.g. "0644". */
  was: string;
}

const OWNER_ONLY = 0o600;

export function privateSqliteFiles(filename: string): Narrowed[] {
  if (filename === ':memory:' || process.platform === 'win32') return [];
  mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(filename, 'wx', OWNER_ONLY));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const narrowed: Narrowed[] = [];
  for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) continue;
    chmodSync(file, OWNER_ONLY);
    narrowed.push({ file, was: `0${mode.toString(8)}` });
  }
  return narrowed;
}
