/**
 * Settings that would hand keys, one-time codes or credentials to others:
 * `credgate serve` refuses each with one line that says how to fix it (exit
 * status 2, nothing created), `credgate config check` reports the same, and
 * the safe variant of each is accepted.
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO, runCli, freshCheckout } from '../helpers/cli.js';

const MASTER_KEY = '3f'.repeat(32);

/** The shipped config with `replace` applied. */
const checkout = (replace: [string, string][] = []): string => freshCheckout({ replace });

const run = (dir: string, command: string[], env: NodeJS.ProcessEnv = {}) => runCli(command, { cwd: dir, env: { CREDGATE_SERVER__PORT: '0', ...env } });

/**
 * `serve` and `config check` both refuse with exactly `lines` (one line each),
 * exit status 2 and no stack trace; `checkOnly` runs `config check` alone.
 */
function assertRefused(dir: string, lines: RegExp[], env: NodeJS.ProcessEnv = {}, checkOnly = false): void {
  for (const command of checkOnly ? [['config', 'check']] : [['serve'], ['config', 'check']]) {
    const r = run(dir, command, env);
    assert.equal(r.status, 2, `${command.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const printed = r.stderr
      .trimEnd()
      .replace(/^credgate: /, '')
      .split('\n');
    assert.equal(printed.length, lines.length, r.stderr);
    for (const [i, line] of lines.entries()) assert.match(printed[i]!, line);
  }
  assert.equal(existsSync(join(dir, 'data')), false, 'serve stopped before opening the database');
}

function assertAccepted(dir: string, env: NodeJS.ProcessEnv = {}): void {
  const r = run(dir, ['config', 'check'], env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'config/credgate.yaml: OK\n');
}

describe('unsafe settings are refused', () => {
  test('a master key file open to group or others: chmod 600 <file>', () => {
    const dir = checkout();
    assert.equal(run(dir, ['init']).status, 0);
    chmodSync(join(dir, 'certs/master.key'), 0o640);
    const r = run(dir, ['serve']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'credgate: certs/master.key: the master key file is open to group or others (mode 0640); run chmod 600 certs/master.key\n');
    assert.equal(run(dir, ['config', 'check']).stderr, r.stderr);
    chmodSync(join(dir, 'certs/master.key'), 0o600);
    assertAccepted(dir);
    // The file is not where the key comes from when the environment holds it
    // (the same key: the dev PKI's keys are encrypted under it).
    chmodSync(join(dir, 'certs/master.key'), 0o644);
    assertAccepted(dir, { CREDGATE_MASTER_KEY: readFileSync(join(dir, 'certs/master.key'), 'utf8').trim() });
  });

  test('a master key written in the config file, unless pki.allowInlineMasterKey says so', () => {
    const inline = checkout([['  # masterKey: ${CREDGATE_MASTER_KEY}', `  masterKey: ${MASTER_KEY}`]]);
    assertRefused(inline, [
      /^pki\.masterKey: the master key is written out in config\/credgate\.yaml, .*; set CREDGATE_MASTER_KEY \(or pki\.masterKey: \$\{VAR\}\) instead, or set pki\.allowInlineMasterKey: true to keep it there$/,
    ]);
    assert.ok(!run(inline, ['config', 'check']).stderr.includes(MASTER_KEY));
    // A default in the file is the file's key too.
    assertRefused(
      checkout([['  # masterKey: ${CREDGATE_MASTER_KEY}', `  masterKey: \${MK:-${MASTER_KEY}}`]]),
      [/^pki\.masterKey: the master key is written out in/],
      {},
      true,
    );

    assertAccepted(checkout([['  # masterKey: ${CREDGATE_MASTER_KEY}', `  masterKey: ${MASTER_KEY}\n  allowInlineMasterKey: true`]]));
    assertAccepted(checkout([['  # masterKey: ${CREDGATE_MASTER_KEY}', '  masterKey: ${MK}']]), { MK: MASTER_KEY });
    assertAccepted(checkout(), { CREDGATE_PKI__MASTER_KEY: MASTER_KEY });
  });

  test('an http:// public URL', () => {
    assertRefused(checkout([['  # publicUrl: https://credgate.example.com', '  publicUrl: http://credgate.example.com']]), [
      /^server\.publicUrl: an http:\/\/ URL would send one-time codes and enrollment links in clear; use an https:\/\/ URL/,
    ]);
    assertRefused(checkout(), [/^server\.publicUrl: an http:\/\/ URL/], { CREDGATE_SERVER__PUBLIC_URL: 'http://credgate.example.com' }, true);
    assertAccepted(checkout([['  # publicUrl: https://credgate.example.com', '  publicUrl: https://credgate.example.com']]));
  });

  test('SMTP credentials without TLS', () => {
    const email = (settings: string) => checkout([['notify: {}', `notify:\n  email: { host: smtp.example.com, from: a@example.com, ${settings} }`]]);
    assertRefused(
      email('user: credgate, password: "${SMTP_PASSWORD}", requireTls: false'),
      [
        /^notify\.email: the SMTP user and password would go to smtp\.example\.com without TLS; set notify\.email\.requireTls: true \(STARTTLS\) or secure: true/,
      ],
      { SMTP_PASSWORD: 'smtp-secret' },
    );
    assertAccepted(email('user: credgate, password: "${SMTP_PASSWORD}"'), { SMTP_PASSWORD: 'smtp-secret' });
    assertAccepted(email('requireTls: false'));
  });

  test('credentials sent to an http:// SMS gateway', () => {
    const sms = (settings: string) => checkout([['notify: {}', `notify:\n  sms: { ${settings} }`]]);
    assertRefused(
      sms('url: "http://sms.example.com/send", headers: { Authorization: "Bearer ${SMS_TOKEN}" }'),
      [/^notify\.sms: the Authorization header would go to the SMS gateway over http:\/\/ in clear; use the gateway's https:\/\/ URL$/],
      { SMS_TOKEN: 'sms-secret' },
    );
    assertRefused(
      sms('url: "http://sms.example.com/send?api_key=k&to={{mobile}}"'),
      [/^notify\.sms: the api_key parameter of notify\.sms\.url would go/],
      {},
      true,
    );
    assertRefused(
      sms('url: "http://user:pw@sms.example.com/send", headers: { X-Api-Key: k }'),
      [/^notify\.sms: a user name or password in notify\.sms\.url and the X-Api-Key header would go/],
      {},
      true,
    );
    assertAccepted(sms('url: "http://127.0.0.1:9090/send?to={{mobile}}"'));
    assertAccepted(sms('url: "https://sms.example.com/send?api_key=k", headers: { Authorization: "Bearer ${SMS_TOKEN}" }'), { SMS_TOKEN: 'sms-secret' });
  });

  test('every problem is reported at once', () => {
    const dir = checkout([
      ['  # publicUrl: https://credgate.example.com', '  publicUrl: http://credgate.example.com'],
      ['  # masterKey: ${CREDGATE_MASTER_KEY}', `  masterKey: ${MASTER_KEY}`],
      ['notify: {}', 'notify:\n  email: { host: smtp.example.com, from: a@example.com, user: u, password: p, requireTls: false }'],
    ]);
    mkdirSync(join(dir, 'config/connectors'));
    copyFileSync(join(REPO, 'config/connectors/examples/workspace-one.yaml'), join(dir, 'config/connectors/ws1.yaml'));
    assertRefused(dir, [
      /^pki\.masterKey: /,
      /^server\.publicUrl: /,
      /^notify\.email: /,
      /^config\/connectors\/ws1\.yaml:\d+:\d+ environment variable WS1_EVENTS_PASSWORD is not set/,
      /WS1_PKCS12_PASSWORD/,
      /WS1_EG_CLIENT_PASSWORD/,
      /WS1_TENANT_CODE/,
      /WS1_OAUTH_CLIENT_ID/,
      /WS1_OAUTH_CLIENT_SECRET/,
    ]);
  });
});
