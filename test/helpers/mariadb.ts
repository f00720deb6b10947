/**
 * A fresh database on the local MariaDB (127.0.0.1:3306, root, no password)
 * for each suite, dropped afterwards, and the pair of backends store suites
 * run on, each opened with every migration applied. CREDGATE_TEST_MYSQL_URL
 * points the tests at another server.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import knexFactory from 'knex';
import { migrate, openDb, type Db, type DbSettings } from '../../src/store/db.js';
import { tempDir } from './tmp.js';

export const MYSQL_SERVER_URL = process.env.CREDGATE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function freshMysqlDatabase(): Promise<TestDatabase> {
  const name = `credgate_t_${randomBytes(5).toString('hex')}`;
  const admin = knexFactory({ client: 'mysql2', connection: { uri: MYSQL_SERVER_URL } as never });
  await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.destroy();
  const url = new URL(MYSQL_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const k = knexFactory({ client: 'mysql2', connection: { uri: MYSQL_SERVER_URL } as never });
      await k.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await k.destroy();
    },
  };
}

export interface StoreBackend {
  name: 'sqlite' | 'mariadb';
  /** A fresh, empty database of this kind and how to throw it away. */
  open(): Promise<{ settings: DbSettings; cleanup: () => Promise<void> }>;
}

/** The two databases every store suite runs on: the embedded SQLite and the local MariaDB. */
export const STORE_BACKENDS: StoreBackend[] = [
  { name: 'sqlite', open: async () => ({ settings: { client: 'sqlite', filename: join(tempDir(), 'store.db') }, cleanup: async () => undefined }) },
  {
    name: 'mariadb',
    open: async () => {
      const database = await freshMysqlDatabase();
      return { settings: { client: 'mysql', url: database.url, pool: { min: 0, max: 5 } }, cleanup: () => database.drop() };
    },
  },
];

/** A fresh database on `backend` with every migration applied; `close` ends its pool and throws the database away. */
export async function openMigrated(backend: StoreBackend): Promise<{ db: Db; settings: DbSettings; close: () => Promise<void> }> {
  const { settings, cleanup } = await backend.open();
  const db = openDb(settings);
  await migrate(db);
  return {
    db,
    settings,
    close: async () => {
      await db.destroy();
      await cleanup();
    },
  };
}
