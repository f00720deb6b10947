/**
 * Configuration errors about secrets, as an operator (or whoever reads the
 * service's journal) sees them from `credgate config check` and `serve`: they
 * name the key and say what is wrong, never the value, whether it was written
 * in the file, filled from ${VAR} or set by a CREDGATE_* variable, in
 * credgate.yaml or in a connector file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, freshCheckout } from '../helpers/cli.js';
import { writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';

/** The shipped config with `extra` appended and `replace` applied. */
const checkout = (extra: string, replace: [string, string][] = []): string => freshCheckout({ extra, replace });

/**
 * Runs `config check` and `serve`; both fail with status 2, name every key in
 * `keys`, and print none of `secrets` (nor the start of one) on stdout or stderr.
 */
function assertRefusedWithoutSecrets(dir: string, env: NodeJS.ProcessEnv, keys: RegExp[], secrets: string[]): void {
  for (const command of [['config', 'check'], ['serve']]) {
    const r = runCli(command, { cwd: dir, env: { CREDGATE_SERVER__PORT: '0', ...env } });
    const output = r.stdout + r.stderr;
    assert.equal(r.status, 2, `${command.join(' ')}: ${output}`);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    for (const key of keys) assert.match(r.stderr, key, `${command.join(' ')} names ${key}: ${r.stderr}`);
    for (const s of secrets) assert.ok(!output.includes(s.slice(0, 6)), `${command.join(' ')} shows ${JSON.stringify(s)}: ${output}`);
  }
  assert.equal(existsSync(join(dir, 'data')), false, 'nothing was created');
}

const MASTER_KEY = 'Mk-not-hex-9f3e1c';
const CONSOLE_PASSWORD = 'Tr0ub4dor&3';
const DB_URL_PASSWORD = 'Db-Pa55w0rd-71';
const CHALLENGE = 'Sh4red-Chall3nge';
const SHORT_CHALLENGE = 'Qx7-sh';
const CA_PASSWORD = 73519864;
const SMTP_PASSWORD = 40927731;
const SMS_TOKEN = 'Sms-T0ken-5521';

describe('configuration errors never show a secret', () => {
  test('secrets written in credgate.yaml: the key is named, the value is not', () => {
    const dir = checkout(
      ['scep:', '  profiles:', `    default: { challenge: "${CHALLENGE}" }`, `    mdm: { challenge: { static: "${SHORT_CHALLENGE}" } }`].join('\n'),
      [
        ['  basic: []', `  basic:\n    - { username: console, password: "${CONSOLE_PASSWORD}", principal: console }`],
        ['  # masterKey: ${CREDGATE_MASTER_KEY}', `  masterKey: "${MASTER_KEY}"\n  cas:\n    corp: { pkcs12: corp.p12, password: ${CA_PASSWORD} }`],
        ['  client: sqlite', `  client: mysql\n  url: "postgres://credgate:${DB_URL_PASSWORD}@db.example.com/credgate"`],
        [
          'notify: {}',
          `notify:\n  email: { host: smtp.example.com, user: credgate, password: ${SMTP_PASSWORD}, from: a@example.com }\n  sms: { url: "sms gateway ${SMS_TOKEN}", headers: { Authorization: 77123 } }`,
        ],
      ],
    );
    assertRefusedWithoutSecrets(
      dir,
      {},
      [
        /config\/credgate\.yaml:\d+:\d+ auth\.basic\.0\.password: expected a password of at least 12 characters/,
        /pki\.masterKey: expected 64 hex digits/,
        /pki\.cas\.corp\.password: expected string, got a number/,
        /database\.url: expected a URL such as mysql:\/\//,
        /scep\.profiles\.default\.challenge: expected "dynamic", "none", \{ static: <challenge> \}/,
        /scep\.profiles\.mdm\.challenge\.static: Too small/,
        /notify\.email\.password: expected string, got a number/,
        /notify\.sms\.url: Invalid URL/,
        /notify\.sms\.headers\.Authorization: expected string/,
      ],
      [MASTER_KEY, CONSOLE_PASSWORD, DB_URL_PASSWORD, CHALLENGE, SHORT_CHALLENGE, String(CA_PASSWORD), String(SMTP_PASSWORD), SMS_TOKEN, '77123'],
    );
  });

  test('secrets from ${VAR} and CREDGATE_* variables: the key and the variable are named, no value is', () => {
    const dir = checkout(['scep:', '  profiles:', '    default:', '      challenge: ${SCEP_CHALLENGE}'].join('\n'), [
      ['  basic: []', '  basic:\n    - { username: console, password: "${CONSOLE_PASSWORD}", principal: console }'],
    ]);
    assertRefusedWithoutSecrets(
      dir,
      {
        CONSOLE_PASSWORD,
        SCEP_CHALLENGE: CHALLENGE,
        CREDGATE_PKI__MASTER_KEY: MASTER_KEY,
        CREDGATE_DATABASE__CLIENT: 'mysql',
        CREDGATE_DATABASE__URL: `postgres://credgate:${DB_URL_PASSWORD}@db.example.com/credgate`,
        // Not a secret, but a value from the environment is never repeated either.
        CREDGATE_JOBS__WORKERS: 'Env-V4lue-of-workers',
      },
      [
        /config\/credgate\.yaml:\d+:\d+ auth\.basic\.0\.password: expected a password of at least 12 characters/,
        /config\/credgate\.yaml:\d+:\d+ scep\.profiles\.default\.challenge: expected "dynamic", "none"/,
        /CREDGATE_PKI__MASTER_KEY \(environment\) pki\.masterKey: expected 64 hex digits/,
        /CREDGATE_DATABASE__URL \(environment\) database\.url: expected a URL such as mysql:\/\//,
        /CREDGATE_JOBS__WORKERS \(environment\) jobs\.workers: expected number, got a string/,
      ],
      [CONSOLE_PASSWORD, CHALLENGE, MASTER_KEY, DB_URL_PASSWORD, 'Env-V4lue-of-workers'],
    );
  });

  test('a list of users set by a CREDGATE_* variable: the password is not shown', () => {
    const dir = checkout('');
    assertRefusedWithoutSecrets(
      dir,
      { CREDGATE_AUTH__BASIC: `[{ username: console, password: "${CONSOLE_PASSWORD}", principal: console }]` },
      [/CREDGATE_AUTH__BASIC \(environment\) auth\.basic\.0\.password: expected a password of at least 12 characters/],
      [CONSOLE_PASSWORD],
    );
  });

  test('secrets in connector files: each file and key is named, no value is', () => {
    const dir = checkout('');
    // Numbers where the schema takes strings: a secret in the wrong type is refused without being shown.
    writeConnectorFile(
      join(dir, 'config/connectors'),
      'ws1',
      ws1Settings({
        eventsPassword: '${WS1_EVENTS_PASSWORD}',
        enrolled: { signing: 'smime-signing' },
        pkcs12: { password: 'P12-pw' },
        escrowGateway: { url: 'https://eg.example.com', clientPkcs12: 'eg.p12', clientPkcs12Password: 55512345 },
        uem: {
          url: 'https://as1234.awmdm.com',
          tenantCode: 66123456,
          oauth: { tokenUrl: 'https://auth.example.com/token', clientId: 'credgate', clientSecret: 88123456 },
        },
      }),
    );
    writeConnectorFile(join(dir, 'config/connectors'), 'core', {
      kind: 'mobileiron',
      broker: { url: 'mqtt://ens:Br0ker-Pw-19@core.example.com:1883' },
      coreApi: { basic: { username: 'api', password: 99123456 } },
    });
    assertRefusedWithoutSecrets(
      dir,
      { WS1_EVENTS_PASSWORD: 'Ws1-Sh0rt' },
      [
        /config\/connectors\/ws1\.yaml:\d+:\d+ inbound\.basic\.0\.password: expected a password of at least 12 characters/,
        /config\/connectors\/ws1\.yaml:\d+:\d+ policy\.pkcs12\.password: Too small/,
        /config\/connectors\/ws1\.yaml:\d+:\d+ escrowGateway\.clientPkcs12Password: expected string, got a number/,
        /config\/connectors\/ws1\.yaml:\d+:\d+ uem\.tenantCode: expected string, got a number/,
        /config\/connectors\/ws1\.yaml:\d+:\d+ uem\.oauth\.clientSecret: expected string, got a number/,
        /config\/connectors\/core\.yaml:\d+:\d+ broker\.url: expected an mqtts:\/\/ URL/,
        /config\/connectors\/core\.yaml:\d+:\d+ coreApi\.basic\.password: expected string, got a number/,
      ],
      ['Ws1-Sh0rt', 'P12-pw', '55512345', '66123456', '88123456', 'Br0ker-Pw-19', '99123456'],
    );
  });

  test('a YAML syntax error does not quote the text it stumbled on', () => {
    const dir = checkout('', [['  # masterKey: ${CREDGATE_MASTER_KEY}', '  masterKey: |x Yaml-S3cret-tail']]);
    assertRefusedWithoutSecrets(dir, {}, [/config\/credgate\.yaml:\d+:\d+ invalid YAML: /], ['Yaml-S3cret-tail']);
  });
});
