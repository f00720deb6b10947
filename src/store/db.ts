/** Opens the database (SQLite with WAL by default, MySQL/MariaDB via mysql2) and migrates it. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.js';
import { JOURNAL_SIZE_LIMIT, startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';

export type Db = Knex;
export type DbClient = 'sqlite' | 'mysql';

export type DbSettings = { client: 'sqlite'; filename: string } | { client: 'mysql'; url: string; pool?: { min: number; max: number } };

export function clientOf(db: Db): DbClient {
  return db.client.config.client === 'mysql2' ? 'mysql' : 'sqlite';
}

export function openDb(settings: DbSettings): Db {
  if (settings.client === 'mysql') {
    return knexFactory({
      client: 'mysql2',
      connection: { uri: settings.url, supportBigNumbers: true, bigNumberStrings: false, charset: 'utf8mb4' } as never,
      pool: settings.pool ?? { min: 0, max: 10 },
      acquireConnectionTimeout: 10_000,
      // A failed connection attempt reaches the caller, which says what to check;
      // knex would also print it with the driver's stack trace.
      log: { warn: (message: unknown) => void (String(message).startsWith('Acquire connection error') || console.warn(message)) },
    });
  }
  if (settings.filename !== ':memory:') mkdirSync(dirname(settings.filename), { recursive: true, mode: 0o700 });
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename: settings.filename },
    useNullAsDefault: true,
    // better-sqlite3 is synchronous: one connection serialises access and
    // keeps transactions from interleaving inside this process.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        // The connection that restarts the WAL trims it back to this after a burst.
        conn.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
        done(null, conn);
      },
    },
  });
}

/**
 * Moves an SQLite database's WAL checkpoints from the connection that commits
 * to a worker thread (wal-checkpointer.ts). For long-running processes (the
 * gateway, not one-shot CLI commands); stop the checkpointer before
 * db.destroy(). Nothing to do for MySQL or an in-memory database.
 */
export async function checkpointInBackground(
  db: Db,
  settings: DbSettings,
  onError: (message: string) => void,
  tuning: { everyMs?: number; restartFrames?: number } = {},
): Promise<WalCheckpointer | undefined> {
  if (settings.client !== 'sqlite' || settings.filename === ':memory:') return undefined;
  await db.raw('PRAGMA wal_autocheckpoint = 0');
  return startWalCheckpointer(settings.filename, { ...tuning, onError });
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

/** Fails with a message that says what to check when the database cannot be reached. */
export async function ping(db: Db): Promise<void> {
  await db.raw('select 1 as ok');
}

/** A unique index refused the row (SQLite and MySQL/MariaDB). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'ER_DUP_ENTRY' || e.errno === 1062;
}
