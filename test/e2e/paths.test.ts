/**
 * Paths behave: pki.dir moves everything `credgate init` writes and what the
 * defaults point at, so the README's examples work with the moved paths; and
 * an operator's mistake about files, keys, the database or the listener is one
 * line from `init` and `serve`, exit status 2, never a stack trace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { devPkiFiles } from '../../src/pki/dev-pki.js';
import { freshCheckout, REPO, runCli, spawnCli, stop, waitForLog } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

/** The README's "Who am I, with the admin certificate" command, as written there. */
function readmeWhoami(): string {
  const blocks = [...readFileSync(join(REPO, 'README.md'), 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes('--cert-type P12') && b.includes('/api/v1/whoami'));
  assert.ok(block, 'the README shows whoami with the admin certificate');
  return block;
}

describe('paths behave', () => {
  test("pki.dir: elsewhere moves everything init writes; config check and serve find it there, and the README's whoami works with the moved paths", async () => {
    const dir = freshCheckout({ replace: [['  dir: certs\n', '  dir: elsewhere\n']] });
    const check = runCli(['config', 'check'], { cwd: dir });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stderr, 'credgate: elsewhere/ does not hold the dev PKI yet; `credgate init` or the first start writes it\n');

    const init = runCli(['init'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /admin client\s+elsewhere\/admin\.p12 \(password in elsewhere\/admin\.p12\.password\)/);
    for (const file of [...Object.values(devPkiFiles(join(dir, 'elsewhere'))), join(dir, 'elsewhere/master.key')]) assert.ok(existsSync(file), file);
    assert.equal(existsSync(join(dir, 'certs')), false, 'nothing in the default directory');
    const again = runCli(['config', 'check'], { cwd: dir });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stderr, '', 'nothing left to write');

    const port = await freePort();
    const gw = spawnCli(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port) } });
    try {
      await waitForLog(gw, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
      const command = readmeWhoami().replaceAll('certs/', 'elsewhere/').replaceAll('localhost:8443', `localhost:${port}`);
      const who = JSON.parse(execFileSync('sh', ['-c', command], { cwd: dir, encoding: 'utf8' })) as { principal: { name: string } };
      assert.equal(who.principal.name, 'admin');
    } finally {
      await stop(gw);
    }
    assert.equal(existsSync(join(dir, 'certs')), false);
  });

  test('operator mistakes are one line from init and serve, exit status 2, no stack trace', () => {
    const dir = freshCheckout();
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);
    writeFileSync(join(dir, 'afile'), 'not a directory\n');
    const masterKey = join(dir, 'certs/master.key');
    const another = 'ab'.repeat(32);

    const oneLine = (commands: string[][], env: NodeJS.ProcessEnv, pattern: RegExp) => {
      for (const command of commands) {
        const r = runCli(command, { cwd: dir, env: { CREDGATE_SERVER__PORT: '0', ...env } });
        assert.equal(r.status, 2, `${command.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error/);
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `${command.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
        assert.match(lines[0]!, pattern, command.join(' '));
      }
    };
    const both = [['init'], ['serve']];

    oneLine(both, { CREDGATE_PKI__DIR: 'afile/pki' }, /^credgate: .*pki\.dir: .*afile.*(is not a directory|ENOTDIR)/);
    oneLine(
      both,
      { CREDGATE_DATABASE__FILENAME: 'afile/credgate.db' },
      /^credgate: .*database\.filename: (afile is not a directory|a file stands where a directory of afile\/credgate\.db belongs)/,
    );
    oneLine(
      both,
      { CREDGATE_DATABASE__CLIENT: 'mysql', CREDGATE_DATABASE__URL: 'mysql://credgate@db.example:port/credgate' },
      /^credgate: cannot open the MySQL\/MariaDB \(database\.url is not a valid URL\)/,
    );
    oneLine(
      [['serve']],
      { CREDGATE_SERVER__HOST: 'no-such-host.invalid' },
      /^credgate: no-such-host\.invalid is no name this machine can resolve; fix the listener's host$/,
    );
    oneLine(both, { CREDGATE_MASTER_KEY: another }, /master key .*does not open|cannot decrypt/);

    renameSync(masterKey, `${masterKey}.away`);
    oneLine(
      both,
      {},
      /^credgate: certs\/master\.key is missing, and the keys in certs\/ are encrypted under the master key it held; restore it, or set CREDGATE_MASTER_KEY to that key$/,
    );
    assert.equal(existsSync(masterKey), false, 'no new master key took its place');
    mkdirSync(masterKey);
    oneLine(both, {}, /^credgate: cannot read the master key file certs\/master\.key \(EISDIR\)$/);
    rmdirSync(masterKey);
    renameSync(`${masterKey}.away`, masterKey);
    assert.equal(runCli(['config', 'check'], { cwd: dir }).status, 0, 'back to what works');
  });
});
