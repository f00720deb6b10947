/**
 * Mutual exclusion by name for gateway instances that share one database.
 *
 * On MySQL/MariaDB a task runs while its instance holds GET_LOCK on a
 * connection set aside for it; the server lets go of the lock when that
 * connection ends, so an instance that dies mid-task blocks nobody. On
 * SQLite one process owns the database and the in-process KeyedLock is all
 * there is to it. Within a process, tasks of one name queue locally first
 * and take one server lock at a time.
 */
import { createHash } from 'node:crypto';
import { KeyedLock } from '../util/keyed-lock.js';
import { clientOf, type Db } from './db.js';

export class LockTimeoutError extends Error {}

export class NamedLocks {
  private readonly local = new KeyedLock();

  constructor(
    private readonly db: Db,
    private readonly opts: { prefix: string; timeoutSeconds?: number },
  ) {}

  run<T>(name: string, task: () => Promise<T>): Promise<T> {
    if (clientOf(this.db) !== 'mysql') return this.local.run(name, task);
    return this.local.run(name, () => this.onServer(name, task));
  }

  private onServer<T>(name: string, task: () => Promise<T>): Promise<T> {
    // GET_LOCK names are at most 64 characters; a hash keeps any name within that.
    const lock = `${this.opts.prefix}:${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;
    const timeout = this.opts.timeoutSeconds ?? 60;
    // A transaction with no statements pins one pooled connection for the lock and locks no rows.
    return this.db.transaction(async (trx) => {
      const [rows] = (await trx.raw('SELECT GET_LOCK(?, ?) AS got', [lock, timeout])) as [{ got: number | null }[]];
      if (Number(rows[0]?.got) !== 1) throw new LockTimeoutError(`another gateway instance held the lock for ${name} for over ${timeout} s`);
      try {
        return await task();
      } finally {
        await trx.raw('SELECT RELEASE_LOCK(?)', [lock]);
      }
    });
  }
}
