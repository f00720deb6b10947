/**
 * The two ways to the database, and which one a repository method takes.
 *
 * Most statements go through knex. The hot ones of issuance and event intake
 * are plain SQL here, which SQLite and MySQL/MariaDB both accept: knex builds
 * and compiles every query and, on better-sqlite3, prepares its SQL again for
 * each run; a knex transaction also builds a transaction-scoped knex
 * instance. Issuing from the key pool paid about 1.5 ms of main-thread time
 * per S/MIME pair for that (bench/README.md, bench/issuance). On SQLite a
 * statement here is prepared once per connection and run directly, and
 * `transaction()` is BEGIN IMMEDIATE … COMMIT on the pool's one connection.
 * On MySQL/MariaDB the same SQL goes through knex.raw and knex transactions.
 *
 * So there are two transaction helpers: `transaction(db, (sql) => …)` here,
 * for those hot paths only, and knex's `db.transaction((trx) => …)` for
 * everything else. A repository method that can run in its caller's
 * transaction takes it as a parameter whose type says from which helper:
 *
 *   Sql               only inside `transaction()`
 *   Knex.Transaction  only inside `db.transaction()`
 *   KnexTarget        inside `db.transaction()`, or on the database alone
 *   SqlTarget         a statement of this module: inside either, or alone
 *
 * The parameter comes first when the method is a step of a larger write, and
 * last, defaulting to the database (`trx: KnexTarget = this.db`), for reads
 * and for writes that usually stand alone. Inside either helper every call
 * gets its transaction, and inside `transaction()` only methods that take its
 * `sql` are called: the transaction holds SQLite's one pooled connection, so
 * a query on `db` waits for it until knex gives up (acquireConnectionTimeout)
 * and every other query of the process waits behind that one.
 *
 * SQL text must be constant (values go in `values`): prepared statements are
 * cached by it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import { clientOf, isUniqueViolation } from './db.js';

export type SqlValue = string | number | Buffer | null;

export interface Sql {
  /** For the few statements the two dialects spell differently (e.g. INSERT that ignores duplicates). */
  readonly dialect: 'sqlite' | 'mysql';
  /** A statement without result rows; resolves to the number of rows it changed. */
  run(sql: string, values: readonly SqlValue[]): Promise<number>;
  /** An INSERT of one row; resolves to its id, or undefined when SQLite's ON CONFLICT … DO NOTHING skipped it. */
  insert(sql: string, values: readonly SqlValue[]): Promise<number | undefined>;
  /** A statement with result rows (SELECT, DELETE … RETURNING). */
  all<T>(sql: string, values: readonly SqlValue[]): Promise<T[]>;
}

/** Where a knex method runs: the database alone, or a `db.transaction()`'s transaction. */
export type KnexTarget = Knex | Knex.Transaction;

/** Where a statement of this module runs: the database alone, a `db.transaction()`'s transaction, or a `transaction()`'s Sql. */
export type SqlTarget = KnexTarget | Sql;

type Connection = BetterSqlite3.Database;

const cache = new WeakMap<Connection, Map<string, BetterSqlite3.Statement>>();

function prepared(conn: Connection, sql: string): BetterSqlite3.Statement {
  let statements = cache.get(conn);
  if (!statements) {
    statements = new Map();
    cache.set(conn, statements);
  }
  let statement = statements.get(sql);
  if (!statement) {
    statement = conn.prepare(sql);
    statements.set(sql, statement);
  }
  return statement;
}

const onConnection = (conn: Connection): Sql => ({
  dialect: 'sqlite',
  run: async (sql, values) => prepared(conn, sql).run(...values).changes,
  insert: async (sql, values) => {
    const r = prepared(conn, sql).run(...values);
    return r.changes ? Number(r.lastInsertRowid) : undefined;
  },
  all: async <T>(sql: string, values: readonly SqlValue[]) => prepared(conn, sql).all(...values) as T[],
});

function onKnex(k: Knex | Knex.Transaction): Sql {
  if (clientOf(k) === 'sqlite') {
    // A knex transaction's client lends the transaction's connection (release is a no-op); the database's lends its pooled one.
    const use = async <T>(f: (sql: Sql) => Promise<T>): Promise<T> => {
      const conn = (await k.client.acquireConnection()) as Connection;
      try {
        return await f(onConnection(conn));
      } finally {
        await k.client.releaseConnection(conn);
      }
    };
    return {
      dialect: 'sqlite',
      run: (sql, values) => use((s) => s.run(sql, values)),
      insert: (sql, values) => use((s) => s.insert(sql, values)),
      all: <T>(sql: string, values: readonly SqlValue[]) => use((s) => s.all<T>(sql, values)),
    };
  }
  const header = async (sql: string, values: readonly SqlValue[]) => ((await k.raw(sql, [...values])) as [{ affectedRows: number; insertId: number }])[0];
  return {
    dialect: 'mysql',
    run: async (sql, values) => (await header(sql, values)).affectedRows,
    insert: async (sql, values) => Number((await header(sql, values)).insertId),
    all: async <T>(sql: string, values: readonly SqlValue[]) => ((await k.raw(sql, [...values])) as [T[]])[0],
  };
}

/**
 * INSERT of one row that is skipped when `key` (a unique key's columns)
 * already holds its values, in each dialect's words; run it with
 * `insertUnlessDuplicate`. MySQL gets a plain INSERT whose duplicate-key
 * error is caught: INSERT IGNORE would also turn every other error (a value
 * too long for its column, say) into a warning and store a truncated row.
 */
export function insertIgnoringDuplicates(table: string, columns: readonly string[], key: readonly string[]): Record<Sql['dialect'], string> {
  // Backticks quote names (e.g. `user`) in MySQL and SQLite alike.
  const into = `INTO ${table} (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  return { sqlite: `INSERT ${into} ON CONFLICT (${key.join(', ')}) DO NOTHING`, mysql: `INSERT ${into}` };
}

/** Runs a statement of `insertIgnoringDuplicates`: the new row's id, or undefined for a duplicate. */
export async function insertUnlessDuplicate(sql: Sql, statement: Record<Sql['dialect'], string>, values: readonly SqlValue[]): Promise<number | undefined> {
  if (sql.dialect === 'sqlite') return sql.insert(statement.sqlite, values);
  try {
    return await sql.insert(statement.mysql, values);
  } catch (err) {
    // InnoDB rolls back only the statement, so the caller's transaction goes on.
    if (isUniqueViolation(err)) return undefined;
    throw err;
  }
}

export const sqlOf = (target: SqlTarget): Sql => (typeof target === 'function' ? onKnex(target) : target);

/** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
export async function transaction<T>(db: Knex, work: (sql: Sql) => Promise<T>): Promise<T> {
  // Inside a knex transaction this nests as a savepoint, as knex does.
  if (clientOf(db) !== 'sqlite' || db.isTransaction) return db.transaction((trx) => work(onKnex(trx)));
  // The pool's one connection, held until COMMIT, keeps every other query of this process out of the transaction.
  const conn = (await db.client.acquireConnection()) as Connection;
  try {
    prepared(conn, 'BEGIN IMMEDIATE').run();
    try {
      const out = await work(onConnection(conn));
      prepared(conn, 'COMMIT').run();
      return out;
    } catch (err) {
      if (conn.inTransaction) prepared(conn, 'ROLLBACK').run();
      throw err;
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}
