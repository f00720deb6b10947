/** Opens and migrates the configured database, turning connection failures into advice. */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { migrate, openDb, ping, type Db, type DbSettings } from '../store/db.js';
import { privateSqliteFiles } from '../store/sqlite-files.js';
import { StartupError } from './errors.js';

/** The validated config guarantees a URL when the client is mysql. */
export function dbSettings(database: Config['database']): DbSettings {
  return database.client === 'mysql' ? { client: 'mysql', url: database.url!, pool: database.pool } : { client: 'sqlite', filename: database.filename };
}

function describeTarget(settings: DbSettings): string {
  if (settings.client === 'sqlite') return `SQLite database ${settings.filename}`;
  try {
    const u = new URL(settings.url);
    return `MySQL/MariaDB at ${u.hostname}:${u.port || 3306}${u.pathname}`; // never the password
  } catch {
    return 'MySQL/MariaDB (database.url is not a valid URL)';
  }
}

/** Keeps the SQLite files private (sqlite-files.ts), warning about any it had to narrow. */
function privateFiles(settings: DbSettings, log: Pick<Logger, 'warn'> | undefined): void {
  if (settings.client !== 'sqlite') return;
  let narrowed;
  try {
    narrowed = privateSqliteFiles(settings.filename);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // mkdir says EEXIST (or ENOTDIR further down) when a file stands where a directory of the path belongs.
    if (e.syscall === 'mkdir' && (e.code === 'EEXIST' || e.code === 'ENOTDIR')) {
      throw new StartupError(`database.filename: a file stands where a directory of ${settings.filename} belongs; move it or set database.filename`);
    }
    throw new StartupError(
      `cannot make the SQLite database ${settings.filename} private: ${e.code ?? e.message}; check that database.filename and its directory belong to this user`,
    );
  }
  for (const { file, was } of narrowed) {
    log?.warn({ file, was, now: '0600' }, `${file} was open to group or others (mode ${was}); narrowed it to 0600`);
  }
}

export async function openDatabase(database: Config['database'], log?: Pick<Logger, 'warn'>): Promise<Db> {
  const settings = dbSettings(database);
  privateFiles(settings, log);
  const db = openDb(settings);
  try {
    await ping(db);
    await migrate(db);
    return db;
  } catch (err) {
    await db.destroy().catch(() => undefined);
    const e = err as NodeJS.ErrnoException & { sqlMessage?: string };
    const cause = e.sqlMessage ?? e.code ?? e.message;
    const hint =
      settings.client === 'mysql'
        ? 'check database.url (CREDGATE_DATABASE__URL) and that the server is running and reachable'
        : 'check that database.filename is writable';
    throw new StartupError(`cannot open the ${describeTarget(settings)}: ${cause}; ${hint}`);
  }
}
