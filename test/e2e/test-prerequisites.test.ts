/**
 * scripts/test-prerequisites.sh, which `npm test` runs first: on a machine
 * that has everything it only looks, quickly; a missing tool is installed
 * with apt-get as root, or named with the exact command to run when it may
 * not install. Tools are hidden by running it with a PATH of its own, and
 * apt-get there is a stand-in that records what it was asked, so nothing is
 * installed on this machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const SCRIPT = join(REPO, 'scripts/test-prerequisites.sh');
const isRoot = process.getuid?.() === 0;

/** Everything the script calls, found on this machine's PATH. */
const TOOLS = [
  'bash',
  'id',
  'openssl',
  'curl',
  'scepclient',
  'go',
  'mariadb',
  'mariadb-admin',
  'install',
  'start-stop-daemon',
  'seq',
  'sleep',
  'mosquitto',
  'file',
];

function which(tool: string): string {
  const r = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${tool} is on this machine (npm test's own prerequisites put it there)`);
  return r.stdout.trim();
}

/** A PATH holding every tool but `hide`, and an apt-get stand-in unless `aptGet` is false. */
function pathWithout(hide: string[], aptGet = true): { path: string; aptCalls: () => string[] } {
  const dir = tempDir();
  for (const tool of TOOLS.filter((t) => !hide.includes(t))) symlinkSync(which(tool), join(dir, tool));
  const calls = join(dir, 'apt-get.calls');
  if (aptGet) writeFileSync(join(dir, 'apt-get'), `#!/bin/sh\necho "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> ${calls}\n`, { mode: 0o755 });
  return { path: dir, aptCalls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []) };
}

function run(env: NodeJS.ProcessEnv, opts: { isolated?: boolean } = {}) {
  const started = process.hrtime.bigint();
  const [cmd, args] = opts.isolated ? ['unshare', ['-n', which('bash'), SCRIPT]] : [which('bash'), [SCRIPT]];
  const r = spawnSync(cmd, args, {
    cwd: REPO,
    env: { ...process.env, CREDGATE_TEST_NO_INSTALL: '', CREDGATE_TEST_MYSQL_URL: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...r, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** A network namespace of its own (root only) has no MariaDB or Mosquitto listening on its loopback. */
const canIsolate = spawnSync('unshare', ['-n', 'true']).status === 0;

describe('npm test prerequisites', () => {
  test('with everything present it installs and starts nothing, says nothing and takes well under two seconds', () => {
    const { path, aptCalls } = pathWithout([]);
    const r = run({ PATH: path });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '');
    assert.deepEqual(aptCalls(), []);
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  });

  test('missing tools when it may not install: stops at once with the exact apt-get command, installs nothing', () => {
    const { path, aptCalls } = pathWithout(['scepclient', 'go']);
    const r = run({ PATH: path, CREDGATE_TEST_NO_INSTALL: '1' });
    assert.equal(r.status, 1);
    const sudo = isRoot ? '' : 'sudo ';
    assert.ok(r.stderr.split('\n').includes(`${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends scep golang-go`), r.stderr);
    assert.match(r.stderr, /missing Debian packages scep golang-go/);
    assert.deepEqual(aptCalls(), []);
  });

  test('missing tools and no apt-get: stops with the Debian package names', () => {
    const { path } = pathWithout(['scepclient'], false);
    const r = run({ PATH: path });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing scep \(Debian package names\), and there is no apt-get here/);
  });

  test('MariaDB not answering when it may not start it: stops with the command that does', {
    skip: !canIsolate && 'needs a network namespace of its own',
  }, () => {
    const r = run({ CREDGATE_TEST_NO_INSTALL: '1' }, { isolated: true });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MariaDB does not answer on 127\.0\.0\.1:3306 as root without a password/);
    assert.ok(r.stderr.split('\n').includes(`${isRoot ? '' : 'sudo '}bash ${SCRIPT}`), r.stderr);
  });

  test('Mosquitto not listening when it may not start it: stops with the command that does', {
    skip: !canIsolate && 'needs a network namespace of its own',
  }, () => {
    // Another MySQL server for the tests: the local MariaDB is left alone.
    const r = run({ CREDGATE_TEST_NO_INSTALL: '1', CREDGATE_TEST_MYSQL_URL: 'mysql://root@db.invalid:3306/test' }, { isolated: true });
    assert.equal(r.status, 1);
    assert.ok(r.stderr.split('\n').includes(`${isRoot ? '' : 'sudo '}mosquitto -d -c /etc/mosquitto/mosquitto.conf`), r.stderr);
  });

  test('missing tools as root: apt-get installs exactly those packages, non-interactively', { skip: !isRoot && 'installs only as root' }, () => {
    const { path, aptCalls } = pathWithout(['scepclient', 'go']);
    const r = run({ PATH: path });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /installing scep golang-go/);
    assert.deepEqual(aptCalls(), [
      'DEBIAN_FRONTEND=noninteractive update -qq',
      'DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends scep golang-go',
    ]);
  });
});
