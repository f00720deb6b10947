/**
 * The `credgate` command as a newcomer and an operator use it: first start
 * from nothing, restart, tokens, jobs, and one-line errors with status 2.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { curl } from '../helpers/curl.js';
import { assertOneLineError, runCli, spawnCli, stop, waitForLog, freshCheckout } from '../helpers/cli.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { freePort } from '../helpers/net.js';

describe('credgate CLI', () => {
  test('first start creates the database and dev PKI; a second start reuses them', async () => {
    const dir = freshCheckout();
    const port = await freePort();
    const env = { CREDGATE_SERVER__PORT: String(port) };
    const first = spawnCli([], { cwd: dir, env });
    const generated = waitForLog(first, (l) => l.msg === 'generated development PKI', 60_000);
    const listening = await waitForLog(first, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    assert.equal(listening.url, `https://localhost:${port}`);
    assert.ok(Array.isArray((await generated).files));

    const db = new Database(join(dir, 'data/credgate.db'), { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.ok((db.prepare('select count(*) n from knex_migrations').get() as { n: number }).n >= 1);
    db.close();

    const who = await curl(`https://localhost:${port}/api/v1/whoami`, adminCurlArgs(join(dir, 'certs')));
    assert.equal(who.status, 200, who.body + who.stderr);
    const p12 = readFileSync(join(dir, 'certs/admin.p12'));
    assert.equal(await stop(first), 0, 'SIGTERM stops it cleanly');

    const second = spawnCli([], { cwd: dir, env });
    let regenerated = false;
    second.stdout?.on('data', (d: Buffer) => (regenerated ||= d.toString().includes('generated development PKI')));
    await waitForLog(second, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    assert.equal(regenerated, false);
    assert.deepEqual(readFileSync(join(dir, 'certs/admin.p12')), p12);
    assert.equal((await curl(`https://localhost:${port}/api/v1/whoami`, adminCurlArgs(join(dir, 'certs')))).status, 200);
    assert.equal(await stop(second), 0);
  });

  test('init, tokens and jobs commands', async () => {
    const dir = freshCheckout();
    const init = runCli(['init'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /admin client\s+certs\/admin\.p12 \(password in certs\/admin\.p12\.password\)/);
    assert.ok(existsSync(join(dir, 'certs/master.key')));

    const created = runCli(['tokens', 'create', '--name', 'ci-bot', '--role', 'admin', '--expires', '30d'], { cwd: dir });
    assert.equal(created.status, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^cgt_/);
    assert.match(created.stderr, /for ci-bot \(roles: admin, expires 20\d\d-/);
    const listed = runCli(['tokens', 'list'], { cwd: dir });
    assert.match(listed.stdout, /ci-bot\s+admin/);
    assert.ok(!listed.stdout.includes(token));

    const port = await freePort();
    const gw = spawnCli(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port) } });
    await waitForLog(gw, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    const who = await curl(`https://localhost:${port}/api/v1/whoami`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-H', `Authorization: Bearer ${token}`]);
    assert.equal(who.status, 200);
    assert.equal((who.json().principal as { name: string }).name, 'ci-bot');
    await stop(gw);

    assert.match(runCli(['jobs', 'list'], { cwd: dir }).stdout, /^ID\s+STATUS\s+TYPE/);
    assertOneLineError(runCli(['jobs', 'show', '42'], { cwd: dir }), /^credgate: job 42 does not exist$/);
    assertOneLineError(runCli(['jobs', 'retry', 'abc'], { cwd: dir }), /job id must be a positive integer/);
    assertOneLineError(runCli(['jobs', 'list', '--status', 'stuck'], { cwd: dir }), /--status must be one of queued, running, done, dead/);
    assertOneLineError(runCli(['tokens', 'create', '--name', 'x', '--expires', 'soon'], { cwd: dir }), /--expires must be a duration/);
  });

  test('roles list: each role with its operator scope, rights and credential-profile uses; tokens may carry auth.roles roles', () => {
    const dir = freshCheckout({
      replace: [
        ['  roles: {}\n', '  roles:\n    helpdesk: { scope: groups, may: [view-people, cancel] }\n    admin: { scope: groups, may: [view-people] }\n'],
        ['roles: { request: [admin], receive: ["*"], validate: [admin]', 'roles: { request: [admin, teller], receive: ["*"], validate: [admin]'],
      ],
    });
    const listed = runCli(['roles', 'list'], { cwd: dir });
    assert.equal(listed.status, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ROLE\s+SCOPE\s+SOURCE\s+RIGHTS\s+CREDENTIAL PROFILES$/);
    assert.match(listed.stdout, /^helpdesk\s+groups\s+auth\.roles\s+view-people,cancel\s+-$/m);
    assert.match(listed.stdout, /^admin\s+groups\s+auth\.roles\s+view-people\s+request smime, validate smime, unlock smime$/m, 'listing admin narrows it');
    assert.match(listed.stdout, /^key-recovery\s+all\s+built-in\s+-\s+-$/m);
    assert.match(listed.stdout, /^teller\s+self\s+default\s+-\s+request smime$/m, 'a role only a profile names reaches its holder only');
    const json = JSON.parse(runCli(['roles', 'list', '--json'], { cwd: dir }).stdout) as { role: string; scope: string; rights: string[] }[];
    assert.deepEqual(
      json.map((r) => [r.role, r.scope]),
      [
        ['helpdesk', 'groups'],
        ['admin', 'groups'],
        ['key-recovery', 'all'],
        ['card-management', 'all'],
        ['teller', 'self'],
      ],
    );
    const created = runCli(['tokens', 'create', '--name', 'hd', '--role', 'helpdesk'], { cwd: dir });
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stderr, /for hd \(roles: helpdesk,/);
  });

  test('tokens: only roles the gateway knows, 90 days unless "never" is asked for, creation and revocation audited', () => {
    const dir = freshCheckout();
    const help = runCli(['tokens', 'create', '--help'], { cwd: dir });
    assert.equal(help.status, 0, help.stderr);
    assert.deepEqual(help.stdout.match(/\(default[^)]*\)/g), ['(default: "90d")'], 'each default shown once');
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /--role <role> role to grant, repeatable: admin, key-recovery, card-management, a role auth.roles lists or one the credential profiles name \(`credgate roles list`\)/,
    );
    assert.match(help.stdout.replace(/\s+/g, ' '), /--expires <lifetime> a duration such as 30d or 12h, or "never": the token then works until revoked/);
    const group = runCli(['tokens', '--help'], { cwd: dir }).stdout;
    assert.match(group, /create \[options\]\s+create a token and print it once/);
    assert.match(group, /list\s+list tokens/);
    assert.match(group, /revoke <id>\s+revoke a token at once/);

    assertOneLineError(
      runCli(['tokens', 'create', '--name', 'reader', '--role', 'auditor'], { cwd: dir }),
      /^credgate: --role must be one of admin, key-recovery, card-management; "auditor" is no role$/,
    );
    assertOneLineError(
      runCli(['tokens', 'create', '--name', 'x', '--expires', '0d'], { cwd: dir }),
      /^credgate: --expires must be a duration such as 90d or 12h, or "never", got "0d"$/,
    );
    assert.doesNotMatch(runCli(['tokens', 'list'], { cwd: dir }).stdout, /reader/, 'nothing was created');

    const before = Date.now();
    const plain = runCli(['tokens', 'create', '--name', 'ops'], { cwd: dir });
    assert.equal(plain.status, 0, plain.stderr);
    const expires = Date.parse(/expires (\S+)\)/.exec(plain.stderr)?.[1] ?? '');
    assert.ok(expires >= before + 90 * 86_400_000 && expires <= Date.now() + 90 * 86_400_000, plain.stderr);
    assert.match(plain.stderr, /for ops \(roles: none,/, 'no role unless one is given');
    const forever = runCli(['tokens', 'create', '--name', 'forever', '--role', 'key-recovery', '--expires', 'never'], { cwd: dir });
    assert.match(forever.stderr, /for forever \(roles: key-recovery, expires never\)/);
    assert.match(runCli(['tokens', 'list'], { cwd: dir }).stdout, /forever\s+key-recovery\s+never/);
    const id = /token ([0-9a-f]+) for forever/.exec(forever.stderr)![1]!;
    assert.equal(runCli(['tokens', 'revoke', id], { cwd: dir }).stdout, `token ${id} revoked\n`);
    assertOneLineError(runCli(['tokens', 'revoke', id], { cwd: dir }), /no live token with id/);

    const db = new Database(join(dir, 'data/credgate.db'), { readonly: true });
    const rows = db.prepare("select actor, action, subject_id, detail from audit where subject_type = 'api-token' order by id").all() as Record<
      string,
      string
    >[];
    db.close();
    const who = `cli:${userInfo().username}`;
    assert.deepEqual(
      rows.map((r) => [r.action, r.actor]),
      [
        ['token.create', who],
        ['token.create', who],
        ['token.revoke', who],
      ],
    );
    assert.equal(rows[2]!.subject_id, id);
    for (const secret of [plain.stdout.trim(), forever.stdout.trim()]) {
      assert.match(secret, /^cgt_/);
      assert.ok(!JSON.stringify(rows).includes(secret.slice(4)), 'the audit trail never holds a token');
    }
  });

  test('config check: OK, or file:line:col errors with exit status 2', () => {
    const dir = freshCheckout();
    const ok = runCli(['config', 'check'], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'config/credgate.yaml: OK\n');

    writeFileSync(join(dir, 'config/credgate.yaml'), readFileSync(join(dir, 'config/credgate.yaml'), 'utf8').replace('client: sqlite', 'client: postgres'));
    const line =
      readFileSync(join(dir, 'config/credgate.yaml'), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('client: postgres')) + 1;
    assertOneLineError(
      runCli(['config', 'check'], { cwd: dir }),
      new RegExp(`^credgate: config/credgate\\.yaml:${line}:11 database\\.client: expected "sqlite" or "mysql", got "postgres"$`),
    );
    // serve refuses the same file the same way, before touching anything
    assertOneLineError(runCli(['serve'], { cwd: dir }), /database\.client: expected "sqlite" or "mysql"/);
    assert.equal(existsSync(join(dir, 'data')), false);

    writeFileSync(join(dir, 'bad.yaml'), 'server:\n  port: [1\n');
    assertOneLineError(runCli(['config', 'check', '--config', 'bad.yaml'], { cwd: dir }), /^credgate: bad\.yaml:\d+:\d+ invalid YAML: /);
    assertOneLineError(runCli(['config', 'check', '--config', 'missing.yaml'], { cwd: dir }), /^credgate: missing\.yaml: no such file/);
    assertOneLineError(runCli(['config', 'check'], { cwd: dir, env: { CREDGATE_CONFIG: 'elsewhere.yaml' } }), /elsewhere\.yaml: no such file/);
  });

  test('an unreachable database is one line naming host and port but never the password', () => {
    const dir = freshCheckout();
    const r = runCli(['serve'], {
      cwd: dir,
      env: { CREDGATE_DATABASE__CLIENT: 'mysql', CREDGATE_DATABASE__URL: 'mysql://credgate:s3cret-db-pw@127.0.0.1:1/credgate', CREDGATE_SERVER__PORT: '0' },
    });
    assertOneLineError(r, /^credgate: cannot open the MySQL\/MariaDB at 127\.0\.0\.1:1\/credgate: ECONNREFUSED; check database\.url/);
    assert.ok(!r.stderr.includes('s3cret-db-pw') && !r.stdout.includes('s3cret-db-pw'));
  });

  test('a port in use is one line saying what to do', async () => {
    const dir = freshCheckout();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = runCli(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port), CREDGATE_SERVER__HOST: '127.0.0.1' } });
      assertOneLineError(r, new RegExp(`^credgate: port ${port} on 127\\.0\\.0\\.1 is already in use; stop the other process or set server\\.port`));
    } finally {
      blocker.close();
    }
  });
});

describe('credgate keys rotate-master', () => {
  test('re-wraps escrowed keys and key files; the gateway still serves and recovers keys afterwards', async () => {
    const dir = freshCheckout();
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);
    const port = await freePort();
    const env = { CREDGATE_SERVER__PORT: String(port) };
    const admin = adminCurlArgs(join(dir, 'certs'));
    const api = (path: string, body: unknown) =>
      curl(`https://localhost:${port}/api/v1${path}`, [...admin, '-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]);

    let gw = spawnCli(['serve'], { cwd: dir, env });
    await waitForLog(gw, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    const issued = await api('/certificates', { template: 'smime-encryption', user: { displayName: 'Rot', email: 'rot@example.com' } });
    assert.equal(issued.status, 201, issued.body);
    const serial = (issued.json().certificate as { serial: string }).serial;
    await stop(gw);

    const oldKey = readFileSync(join(dir, 'certs/master.key'), 'utf8');
    const oldIssuingKey = readFileSync(join(dir, 'certs/issuing-ca-key.pem'), 'utf8');
    const oldOtaKey = readFileSync(join(dir, 'certs/ota-signing-key.pem'), 'utf8');
    const oldContentKey = readFileSync(join(dir, 'certs/content-signing-key.pem'), 'utf8');
    const rotated = runCli(['keys', 'rotate-master'], { cwd: dir });
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, /re-wrapped 1 escrowed and \d+ pooled keys and 6 key files/);
    assert.notEqual(readFileSync(join(dir, 'certs/master.key'), 'utf8'), oldKey);
    assert.notEqual(readFileSync(join(dir, 'certs/issuing-ca-key.pem'), 'utf8'), oldIssuingKey);
    assert.notEqual(readFileSync(join(dir, 'certs/ota-signing-key.pem'), 'utf8'), oldOtaKey, 'the OTA signing key is re-wrapped too');
    assert.notEqual(readFileSync(join(dir, 'certs/content-signing-key.pem'), 'utf8'), oldContentKey, 'and the content-signing key');
    assert.ok(!existsSync(join(dir, 'certs/master.key.next')));
    const again = runCli(['keys', 'rotate-master'], { cwd: dir });
    assert.equal(again.status, 0, again.stderr);

    gw = spawnCli(['serve'], { cwd: dir, env });
    await waitForLog(gw, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    const recovered = await api(`/certificates/${serial}/recover-key`, { reason: 'rotation check' });
    assert.equal(recovered.status, 200, recovered.body);
    await stop(gw);
  });
});
