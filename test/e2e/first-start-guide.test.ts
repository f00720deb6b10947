/**
 * What a newcomer sees when the gateway starts: on the first start (and at a
 * terminal) a readable guide to signing in, with the real paths and the admin
 * certificate's fingerprint, whose commands work as printed; never the
 * admin PKCS#12 password. Log lines are readable at a terminal and JSON for
 * collectors unless logging.format says otherwise.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshCheckout, runCli, spawnCli, spawnCliOnTerminal, stop, waitForLog } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';

/** Resolves with everything `stream` has carried once `done` holds for it. */
function outputUntil(child: ChildProcess, stream: 'stdout' | 'stderr', done: (text: string) => boolean, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out; ${stream} so far:\n${text}`)), timeoutMs);
    child[stream]?.on('data', (d: Buffer) => {
      text += d.toString().replace(/\r/g, '');
      if (done(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}; ${stream} so far:\n${text}`));
    });
  });
}

const guideDone = (text: string) => /--help\n/.test(text.slice(text.indexOf('Try next:')));

/** The line of the guide that starts with `prefix`, as a person would copy it. */
function commandLine(guide: string, prefix: string): string {
  const line = guide.split('\n').find((l) => l.trimStart().startsWith(prefix));
  assert.ok(line, `the guide has a line starting with ${prefix}:\n${guide}`);
  return line.trim();
}

/** Runs a line copied from the guide the way a person pastes it into a shell. */
function paste(line: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${line} -sS --max-time 20`], { cwd, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the first-start guide', () => {
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
  });

  test('the first start prints it even into a pipe; its paths follow pki.dir and its curl signs in', async () => {
    const dir = freshCheckout({
      // server.tls and the admin trust follow pki.dir when left out, as shipped.
      replace: [['dir: certs', 'dir: secrets/pki']],
    });
    const port = await freePort();
    const first = spawnCli([], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port) } });
    children.push(first);
    const guide = await outputUntil(first, 'stderr', guideDone);

    assert.match(guide, new RegExp(`HTTPS\\s+https://localhost:${port}`));
    assert.match(guide, /config\s+config\/credgate\.yaml/, 'the file actually loaded');
    assert.doesNotMatch(guide, /certs\//, 'no path from the shipped layout: they follow pki.dir');
    const p12 = /client certificate (\S+admin\.p12);/.exec(guide)?.[1];
    assert.ok(p12 && /secrets\/pki\/admin\.p12$/.test(p12) && existsSync(join(dir, p12)), `a real admin.p12 path: ${p12}`);
    assert.match(guide, /password is in \S*secrets\/pki\/admin\.p12\.password/);
    assert.match(guide, /browsers\s+import \S*secrets\/pki\/admin\.p12 with the password from \S*secrets\/pki\/admin\.p12\.password/);
    assert.match(guide, /Go clients such as scepclient: SSL_CERT_FILE=\S*secrets\/pki\/root-ca\.pem/);

    const admin = new X509Certificate(readFileSync(join(dir, 'secrets/pki/admin.pem')));
    assert.ok(guide.includes(`SHA-256 ${admin.fingerprint256}`), 'the admin certificate fingerprint');
    const password = readFileSync(join(dir, 'secrets/pki/admin.p12.password'), 'utf8').trim();
    assert.ok(password.length >= 16);
    assert.ok(!guide.includes(password), 'the PKCS#12 password stays in its file');

    // The guide's own command, pasted into a shell, signs in as admin.
    const signIn = await paste(commandLine(guide, 'curl '), dir);
    assert.equal(signIn.code, 0, signIn.stderr);
    assert.equal((JSON.parse(signIn.stdout) as { principal: { name: string } }).principal.name, 'admin');
    // Go clients trust the root CA through SSL_CERT_FILE: openssl verifies the served chain against that file alone.
    const root = /SSL_CERT_FILE=(\S+)/.exec(guide)![1]!;
    const verified = await new Promise<string>((resolve) =>
      execFile(
        'bash',
        ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername localhost -verify_return_error -CAfile ${root} </dev/null`],
        { cwd: dir, encoding: 'utf8' },
        (_e, out) => resolve(out),
      ),
    );
    assert.match(verified, /Verify return code: 0 \(ok\)/);
    assert.equal(await stop(first), 0);

    // A second start into a pipe, with nothing new to tell: log lines only, and JSON ones.
    const second = spawnCli([], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port) } });
    children.push(second);
    let stderr = '';
    second.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForLog(second, (l) => String(l.msg).startsWith('credgate listening'), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(stderr, '');
    assert.equal(await stop(second), 0);
  });

  test('at a terminal it is printed on every start, after readable log lines', async () => {
    const dir = freshCheckout();
    const port = await freePort();
    const env = { CREDGATE_SERVER__PORT: String(port) };
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);

    const onTerminal = spawnCliOnTerminal(['serve'], { cwd: dir, env });
    children.push(onTerminal);
    const screen = await outputUntil(onTerminal, 'stdout', guideDone);
    const before = screen.slice(0, screen.indexOf('credgate is listening\n'));
    assert.match(before, /INFO.*credgate listening on https:\/\/localhost:\d+/, 'log lines come first, in pino-pretty form');
    assert.doesNotMatch(screen, /^\{"level"/m, 'no JSON lines at a terminal');
    assert.match(screen, /client certificate certs\/admin\.p12;/);
    assert.match(
      screen,
      /curl --cacert certs\/root-ca\.pem --cert-type P12 --cert "certs\/admin\.p12:\$\(cat certs\/admin\.p12\.password\)" https:\/\/localhost:\d+\/api\/v1\/whoami/,
    );
    assert.ok(!screen.includes(readFileSync(join(dir, 'certs/admin.p12.password'), 'utf8').trim()));
    assert.equal(await stop(onTerminal), 0);
  });

  test('logging.format from the environment: json at a terminal, pretty into a pipe, redacted in both', async () => {
    const dir = freshCheckout();
    const asJson = spawnCliOnTerminal(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(await freePort()), CREDGATE_LOGGING__FORMAT: 'json' } });
    children.push(asJson);
    const screen = await outputUntil(asJson, 'stdout', guideDone);
    assert.match(screen, /^\{"level":30,.*"msg":"credgate listening on /m);
    assert.equal(await stop(asJson), 0);

    const port = await freePort();
    const pretty = spawnCli([], { cwd: dir, env: { CREDGATE_SERVER__PORT: String(port), CREDGATE_LOGGING__FORMAT: 'pretty' } });
    children.push(pretty);
    let logs = '';
    pretty.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
    await until('the listening line', () => logs.includes('INFO: credgate listening on '), 60_000);
    const secret = 'otp-in-a-query-5521';
    await new Promise((resolve) =>
      execFile('curl', ['-sS', '--cacert', join(dir, 'certs/root-ca.pem'), `https://localhost:${port}/mobile/v1/sessions?otp=${secret}`], resolve),
    );
    await until('the request line', () => logs.includes('url: "/mobile/v1/sessions?otp=[Redacted]"'), 10_000);
    assert.doesNotMatch(logs, /^\{/m, 'no JSON lines');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI colour code starts with ESC
    assert.doesNotMatch(logs, /\u001b\[/, 'no colour codes into a pipe');
    assert.ok(!logs.includes(secret), 'the one-time code is redacted in pretty lines too');
    assert.equal(await stop(pretty), 0);
  });
});
