/**
 * What a first start leaves on disk is the owner's alone: the SQLite database
 * (wrapped keys, one-time-code HMACs, personal data) with its -wal and -shm
 * files, the dev PKI's keys and the directories made for them. Files an
 * earlier version left open to others are narrowed, with a warning.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { spawnCli, stop, waitForLog, freshCheckout } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const modeOf = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;
const listening = (l: Record<string, unknown>) => String(l.msg).startsWith('credgate listening');

async function start(dir: string): Promise<ChildProcess> {
  // No pre-generated keys: nothing here needs them, and they cost CPU.
  return spawnCli(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(await freePort()), CREDGATE_PKI__KEY_POOL: '{}' } });
}

describe('private files', () => {
  test('a first start creates the database 0600 in a 0700 directory, and the dev PKI keys 0600 in a 0700 directory', async () => {
    const dir = freshCheckout();
    const gw = await start(dir);
    try {
      await waitForLog(gw, listening, 60_000);
      // While the gateway runs in WAL mode, SQLite keeps the -wal and -shm files beside the database.
      for (const file of ['data/credgate.db', 'data/credgate.db-wal', 'data/credgate.db-shm']) {
        assert.ok(existsSync(join(dir, file)), file);
        assert.equal(modeOf(join(dir, file)), '0600', file);
      }
      assert.equal(modeOf(join(dir, 'data')), '0700');
      assert.equal(modeOf(join(dir, 'certs')), '0700');
      for (const file of [
        'master.key',
        'root-ca-key.pem',
        'issuing-ca-key.pem',
        'server-key.pem',
        'scep-ra-key.pem',
        'ota-signing-key.pem',
        'admin.p12',
        'admin.p12.password',
      ]) {
        assert.equal(modeOf(join(dir, 'certs', file)), '0600', file);
      }
    } finally {
      await stop(gw);
    }
  });

  test('a database, -wal and -shm left open to others are narrowed to 0600 at start, with a warning', async () => {
    const dir = freshCheckout();
    let gw = await start(dir);
    await waitForLog(gw, listening, 60_000);
    // Killed, it leaves its -wal and -shm behind, as a crash would.
    await stop(gw, 'SIGKILL');
    const files = ['data/credgate.db', 'data/credgate.db-wal', 'data/credgate.db-shm'];
    for (const file of files) chmodSync(join(dir, file), 0o644);

    gw = await start(dir);
    try {
      let out = '';
      gw.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await waitForLog(gw, listening, 60_000);
      const warned = out
        .split('\n')
        .filter((l) => l.includes('was open to group or others'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        warned.map((l) => [l.level, l.file, l.was, l.now]),
        files.map((f) => [40, f, '0644', '0600']),
      );
      for (const file of files) assert.equal(modeOf(join(dir, file)), '0600', file);
    } finally {
      await stop(gw);
    }
  });
});
