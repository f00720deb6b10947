/**
 * A MariaDB server of the test's own (a fresh data directory, a free port on
 * 127.0.0.1, root without a password), for what must not share the local
 * server: fixed database and user names, as documentation's examples use.
 */
import { execFile, spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';
import { tempDir } from './tmp.js';
import { until } from './wait.js';

const run = promisify(execFile);

export interface PrivateMariaDb {
  port: number;
  /** Runs SQL as root; resolves with what the client printed (tab-separated, no headers). */
  sql(statements: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPrivateMariaDb(): Promise<PrivateMariaDb> {
  const dir = tempDir('credgate-mariadb-');
  const datadir = join(dir, 'data');
  const user = userInfo().username; // as root, mariadbd would otherwise refuse to run
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
    timeout: 60_000,
  });
  const port = await freePort();
  const server = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${join(dir, 'sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--user=${user}`,
      `--pid-file=${join(dir, 'pid')}`,
      '--innodb-buffer-pool-size=16M',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const orphan = () => server.exitCode === null && server.kill('SIGKILL');
  process.once('exit', orphan);
  server.once('exit', () => process.off('exit', orphan));
  const client = (args: string[]) =>
    run('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uroot', '--batch', '--skip-column-names', ...args], { timeout: 30_000 });
  try {
    await until(
      'the private MariaDB to answer',
      async () => {
        if (server.exitCode !== null) throw new Error(`mariadbd exited (${server.exitCode}):\n${log}`);
        return client(['-e', 'SELECT 1']).then(
          () => true,
          () => false,
        );
      },
      60_000,
      100,
    );
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    sql: async (statements) => (await client(['-e', statements])).stdout,
    async stop() {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await exited;
      }
    },
  };
}
