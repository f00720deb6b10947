/**
 * `credgate config check` and `credgate serve` agree: the check says OK
 * exactly when serve starts, and both list every problem at once, each at
 * its place (file:line:col, or the variable that set it), with exit status 2,
 * no stack trace and nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freshCheckout, runCli, spawnCli, stop, waitForLog } from '../helpers/cli.js';
import { basicInbound, writeConnectorFile } from '../helpers/connector-files.js';
import { openssl } from '../helpers/openssl.js';

/** `file:line:col` of the first occurrence of `needle` in the file (1-based, as the YAML positions are). */
function at(dir: string, file: string, needle: string): string {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  assert.ok(line >= 0, `${file} holds ${needle}`);
  return `${file}:${line + 1}:${lines[line]!.indexOf(needle) + 1}`;
}

/** What `serve` does with the checkout: listen (then it is stopped), or exit with what it printed. */
async function serveOutcome(dir: string, env: NodeJS.ProcessEnv): Promise<{ listening: boolean; status: number | null; stderr: string }> {
  const child = spawnCli(['serve'], { cwd: dir, env: { CREDGATE_SERVER__PORT: '0', CREDGATE_SERVER__HOST: '127.0.0.1', ...env } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitForLog(child, (l) => String(l.msg).startsWith('credgate listening'), 90_000);
  } catch {
    return { listening: false, status: await exited, stderr };
  }
  await stop(child);
  return { listening: true, status: null, stderr };
}

/** Both commands refuse with exactly `lines` (after the "credgate: " of the first), status 2 and no stack trace. */
function assertRefusedBoth(dir: string, env: NodeJS.ProcessEnv, lines: (string | RegExp)[]): void {
  for (const command of [['config', 'check'], ['serve']]) {
    const r = runCli(command, { cwd: dir, env: { CREDGATE_SERVER__PORT: '0', ...env } });
    assert.equal(r.status, 2, `${command.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error/);
    const printed = r.stderr
      .trimEnd()
      .replace(/^credgate: /, '')
      .split('\n');
    assert.equal(printed.length, lines.length, `${command.join(' ')}:\n${r.stderr}`);
    for (const [i, line] of lines.entries()) {
      if (typeof line === 'string') assert.equal(printed[i], line);
      else assert.match(printed[i]!, line);
    }
  }
}

describe('config check checks what serve checks', () => {
  test('every problem at once, each at its place: config check and serve print the same lines, exit 2, and write nothing', () => {
    const dir = freshCheckout({
      replace: [
        [
          '      - { template: smime-encryption, container: system-store }\n',
          '      - { template: smime-encryption, container: system-store }\n      - { template: vpn-cert }\n',
        ],
        ['    # trust: [/etc/credgate/admin-ca.pem]', '    trust: [certs/root-ca.pem, certs/issuing-ca.pem, ca/corp-root.pem]'],
      ],
    });
    // A misspelt kind, and a placeholder whose variable is not set.
    writeConnectorFile(join(dir, 'config/connectors'), 'ws1', { kind: 'worksapce-one', inbound: basicInbound('ws1-events', '${WS1_EVENTS_PASSWORD}') });
    const main = 'config/credgate.yaml';
    const ws1 = 'config/connectors/ws1.yaml';
    assertRefusedBoth(dir, { CREDGATE_SERVR__PORT: '9443' }, [
      `${at(dir, main, 'vpn-cert')} credentialProfiles.smime.certificates[2].template: no template named "vpn-cert" (configured: smime-signing, smime-encryption, device-identity, tls-client, derived-piv-auth)`,
      `${at(dir, main, 'ca/corp-root.pem')} auth.clientCertificates.trust[2]: cannot read ca/corp-root.pem (ENOENT)`,
      `${at(dir, ws1, '${WS1_EVENTS_PASSWORD}')} environment variable WS1_EVENTS_PASSWORD is not set; export it or give a default as \${WS1_EVENTS_PASSWORD:-value}`,
      `${at(dir, ws1, 'worksapce-one')} kind: expected "workspace-one", "mobileiron", "citrix" or "intune", got "worksapce-one"`,
      'CREDGATE_SERVR__PORT (environment): names no setting; did you mean CREDGATE_SERVER__PORT (server.port)?',
    ]);
    assert.equal(existsSync(join(dir, 'data')), false, 'no database');
    assert.equal(existsSync(join(dir, 'certs')), false, 'no master key, no dev PKI');
  });

  test('a variable that names no setting and is like none is reported too; those the files take with ${VAR} are not', () => {
    const dir = freshCheckout({ replace: [['  level: info', '  level: ${CREDGATE_LOG_LEVEL:-info}']] });
    const r = runCli(['config', 'check'], { cwd: dir, env: { CREDGATE_LOG_LEVEL: 'debug', CREDGATE_TOKEN: 'x' } });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      'credgate: CREDGATE_TOKEN (environment): names no setting (a key\'s variable is CREDGATE_ + its path, levels joined by "__"); unset it\n',
    );
    assert.ok(!r.stderr.includes("'x'"), 'never the value');
    const ok = runCli(['config', 'check'], {
      cwd: dir,
      env: { CREDGATE_LOG_LEVEL: 'debug', CREDGATE_CONFIG: 'config/credgate.yaml', CREDGATE_SERVER__PORT: '9443' },
    });
    assert.equal(ok.status, 0, ok.stderr);
  });

  test('config check exits 0 exactly when serve starts', async () => {
    const p12 = (dir: string) => {
      openssl([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'eg-key.pem'),
        '-out',
        join(dir, 'eg.pem'),
        '-subj',
        '/CN=eg client',
        '-days',
        '2',
      ]);
      openssl([
        'pkcs12',
        '-export',
        '-inkey',
        join(dir, 'eg-key.pem'),
        '-in',
        join(dir, 'eg.pem'),
        '-out',
        join(dir, 'eg.p12'),
        '-passout',
        'pass:the-right-password',
      ]);
    };
    // Laid out by hand: the expected message names the line and column of clientPkcs12.
    const ws1 = (password: string) =>
      [
        'kind: workspace-one',
        'inbound:',
        '  basic: [{ username: ws1-events, password: "${WS1_EVENTS_PASSWORD}" }]',
        'policy:',
        '  enrolled: { signing: smime-signing, encryption: smime-encryption }',
        '  pkcs12: { password: "${WS1_PKCS12_PASSWORD}" }',
        'escrowGateway:',
        '  url: https://eg.example.com',
        '  clientPkcs12: eg.p12',
        `  clientPkcs12Password: ${password}`,
        '',
      ].join('\n');
    const wsEnv = { WS1_EVENTS_PASSWORD: 'events-password-1', WS1_PKCS12_PASSWORD: 'delivery-password' };
    const cases: { name: string; starts: boolean; make(): string; env?: NodeJS.ProcessEnv; says?: RegExp }[] = [
      { name: 'the shipped configuration', starts: true, make: () => freshCheckout() },
      {
        name: 'ota.scepProfile naming a profile with a static challenge',
        starts: false,
        make: () =>
          freshCheckout({
            replace: [['  scepProfile: default', '  scepProfile: mdm']],
            extra: 'scep:\n  profiles:\n    default: {}\n    mdm: { challenge: { static: "${SCEP_CHALLENGE}" } }\n',
          }),
        env: { SCEP_CHALLENGE: 'a-shared-challenge' },
        says: /^config\/credgate\.yaml:\d+:\d+ ota\.scepProfile: SCEP profile "mdm" must use one-time challenges \(challenge: dynamic\)$/,
      },
      {
        name: 'a template naming a CA that is not configured',
        starts: false,
        make: () => freshCheckout({ replace: [['    preset: tls-client\n', '    preset: tls-client\n    ca: corp\n']] }),
        says: /^config\/credgate\.yaml:\d+:\d+ templates\.tls-client\.ca: no CA named "corp" \(configured: dev\)$/,
      },
      {
        name: 'a trust file that holds no certificate (TLS would take it without a word)',
        starts: false,
        make: () => {
          const dir = freshCheckout({ replace: [['    # trust: [/etc/credgate/admin-ca.pem]', '    trust: [certs/root-ca.pem, notes.pem]']] });
          writeFileSync(join(dir, 'notes.pem'), 'the corporate root goes here\n');
          return dir;
        },
        says: /^config\/credgate\.yaml:\d+:\d+ auth\.clientCertificates\.trust\[1\]: notes\.pem holds no PEM certificate$/,
      },
      {
        name: 'a connector whose PKCS#12 does not open with its password (the Escrow Gateway would refuse every upload)',
        starts: false,
        make: () => {
          const dir = freshCheckout();
          p12(dir);
          mkdirSync(join(dir, 'config/connectors'));
          writeFileSync(join(dir, 'config/connectors/ws1.yaml'), ws1('not-the-password'));
          return dir;
        },
        env: wsEnv,
        says: /^config\/connectors\/ws1\.yaml:9:17 escrowGateway\.clientPkcs12: eg\.p12 is not a PKCS#12 file that opens with its password$/,
      },
      {
        name: 'the same connector with the right password',
        starts: true,
        make: () => {
          const dir = freshCheckout();
          p12(dir);
          mkdirSync(join(dir, 'config/connectors'));
          writeFileSync(join(dir, 'config/connectors/ws1.yaml'), ws1('the-right-password'));
          return dir;
        },
        env: wsEnv,
      },
    ];
    for (const c of cases) {
      const dir = c.make();
      const check = runCli(['config', 'check'], { cwd: dir, env: c.env ?? {} });
      const served = await serveOutcome(dir, c.env ?? {});
      assert.equal(served.listening, c.starts, `${c.name}: serve ${served.listening ? 'started' : `exited ${served.status}: ${served.stderr}`}`);
      assert.equal(check.status, c.starts ? 0 : 2, `${c.name}: config check: ${check.stdout}${check.stderr}`);
      if (c.starts) {
        assert.equal(check.stdout, 'config/credgate.yaml: OK\n');
        assert.match(check.stderr, /^(credgate: certs\/ does not hold the dev PKI yet; `credgate init` or the first start writes it\n)?$/);
        continue;
      }
      assert.equal(served.status, 2, c.name);
      for (const out of [check.stderr, served.stderr]) {
        assert.doesNotMatch(out, /\n\s+at |unexpected error/, c.name);
        assert.match(out.trimEnd().replace(/^credgate: /, ''), c.says!, c.name);
      }
    }
  });
});
