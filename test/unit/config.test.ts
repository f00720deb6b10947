/** Configuration: the shipped file, errors that point at the line, env overrides and secrets. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { jsonSchemaText, SCHEMA_PATH } from '../../src/config/json-schema.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { envVariableFor } from '../../src/config/env.js';
import { REPO } from '../helpers/cli.js';

const problems = (text: string, env: NodeJS.ProcessEnv = {}): string[] => {
  try {
    parseConfig(text, 'config/credgate.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
};

describe('configuration', () => {
  test('the shipped config/credgate.yaml is valid and runs SQLite on 8443', () => {
    const { config } = loadConfig({ path: `${REPO}/config/credgate.yaml`, env: {} });
    assert.equal(config.server.port, 8443);
    assert.equal(config.database.client, 'sqlite');
    assert.equal(config.auth.clientCertificates.allow[0]?.principal, 'admin');
  });

  test('an empty file means built-in defaults', () => {
    const config = parseConfig('', 'f', {});
    assert.equal(config.server.port, 8443);
    assert.equal(config.database.client, 'sqlite');
    assert.equal(config.database.filename, 'data/credgate.db');
  });

  test('a wrong enum value names file, line, column, key, the choices and the value', () => {
    const text = 'server:\n  port: 8443\n\ndatabase:\n  client: postgres\n';
    assert.deepEqual(problems(text), ['config/credgate.yaml:5:11 database.client: expected "sqlite" or "mysql", got "postgres"']);
  });

  test('wrong types, unknown keys and bad durations are each reported at their line', () => {
    const text = ['server:', '  port: "eighty"', '  prot: 1', 'jobs:', '  pollInterval: 5 minutes'].join('\n');
    assert.deepEqual(problems(text), [
      'config/credgate.yaml:2:9 server.port: expected number, got "eighty"',
      'config/credgate.yaml:2:3 server: unknown key "prot" (misspelt?)',
      'config/credgate.yaml:5:17 jobs.pollInterval: expected a duration such as "500ms", "30s", "5m", "1h" or "7d", got "5 minutes"',
    ]);
  });

  test('a credential profile entry is either a template or an unmanaged purpose, and an unmanaged one takes no template options', () => {
    const profile = (entries: string[]) => ['credentialProfiles:', '  p:', '    certificates:', ...entries].join('\n');
    const ok = parseConfig(profile(['      - { template: smime-signing }', '      - { unmanaged: encryption, container: system-store }']), 'f', {});
    assert.deepEqual(ok.credentialProfiles.p!.certificates[1], { unmanaged: 'encryption', container: 'system-store' });
    const both = problems(profile(['      - { template: smime-signing, unmanaged: signing }']));
    assert.equal(both.length, 1);
    assert.match(both[0]!, /credentialProfiles\.p\.certificates\.0: give either template \(issued here\) or unmanaged/);
    assert.match(problems(profile(['      - { container: none }']))[0]!, /give either template/);
    assert.match(
      problems(profile(['      - { unmanaged: encryption, historic: use-existing }']))[0]!,
      /certificates\.0\.historic: an unmanaged certificate takes no historic/,
    );
    assert.match(problems(profile(['      - { unmanaged: decryption }']))[0]!, /unmanaged: expected "authentication", "signing" or "encryption"/);
  });

  test('on MySQL the connection pool must be larger than the number of workers', () => {
    const text = 'database:\n  client: mysql\n  url: mysql://u:p@db/credgate\n  pool: { max: 4 }\njobs:\n  workers: 4\n';
    const [problem] = problems(text);
    assert.match(problem!, /^config\/credgate\.yaml:4:\d+ database\.pool\.max: must be larger than jobs\.workers \(4\)/);
    assert.equal(parseConfig(text.replace('workers: 4', 'workers: 3'), 'f', {}).jobs.workers, 3);
  });

  test('a missing required key points at its parent', () => {
    assert.deepEqual(problems('database:\n  client: mysql\n'), ['config/credgate.yaml:2:3 database.url: required when database.client is mysql']);
  });

  test('invalid YAML is reported with its position', () => {
    const [p] = problems('server:\n  port: [8443\n');
    assert.match(p!, /^config\/credgate\.yaml:\d+:\d+ invalid YAML: /);
  });

  test('${VAR} is filled from the environment; a missing one is an error at its line', () => {
    const text = 'auth:\n  basic:\n    - username: ws1\n      password: ${WS1_PASSWORD}\n      principal: ws1\n';
    const config = parseConfig(text, 'f', { WS1_PASSWORD: 'a-long-secret-value' });
    assert.equal(config.auth.basic[0]?.password, 'a-long-secret-value');
    assert.deepEqual(problems(text, {}), [
      'config/credgate.yaml:4:17 environment variable WS1_PASSWORD is not set; export it or give a default as ${WS1_PASSWORD:-value}',
    ]);
    const withDefault = parseConfig('logging:\n  level: ${LOG_LEVEL:-debug}\n', 'f', {});
    assert.equal(withDefault.logging.level, 'debug');
  });

  test('switching to MySQL from the environment leaves the shipped SQLite filename harmless', () => {
    const { config } = loadConfig({
      path: `${REPO}/config/credgate.yaml`,
      env: { CREDGATE_DATABASE__CLIENT: 'mysql', CREDGATE_DATABASE__URL: 'mysql://root@127.0.0.1:3306/credgate' },
    });
    assert.equal(config.database.client, 'mysql');
    assert.equal(config.database.url, 'mysql://root@127.0.0.1:3306/credgate');
  });

  test('every key can be set from the environment, typed by the schema', () => {
    assert.equal(envVariableFor(['server', 'publicUrl']), 'CREDGATE_SERVER__PUBLIC_URL');
    const config = parseConfig('server:\n  port: 8443\n', 'f', {
      CREDGATE_SERVER__PORT: '9443',
      CREDGATE_SERVER__TRUST_PROXY: 'true',
      CREDGATE_DATABASE__CLIENT: 'mysql',
      CREDGATE_DATABASE__URL: 'mysql://credgate:pw@db:3306/credgate',
      CREDGATE_AUTH__CLIENT_CERTIFICATES__TRUST: '[a.pem, b.pem]',
      CREDGATE_JOBS__BACKOFF__MAX: '10m',
    });
    assert.equal(config.server.port, 9443);
    assert.equal(config.server.trustProxy, true);
    assert.equal(config.database.client, 'mysql');
    assert.deepEqual(config.auth.clientCertificates.trust, ['a.pem', 'b.pem']);
    assert.equal(config.jobs.backoff.max, '10m');
  });

  test('a bad value from the environment names the variable, not the value', () => {
    assert.deepEqual(problems('', { CREDGATE_SERVER__PORT: 'http' }), ['CREDGATE_SERVER__PORT (environment) server.port: expected number, got a string']);
  });

  test('an explicit config path that does not exist is an error', () => {
    assert.throws(() => loadConfig({ path: '/nonexistent/credgate.yaml', env: {} }), /no such file/);
    assert.throws(() => loadConfig({ env: { CREDGATE_CONFIG: '/nonexistent/x.yaml' } }), /no such file/);
  });

  test(`${SCHEMA_PATH} is up to date with the schema (run \`npm run schema\`)`, () => {
    assert.equal(readFileSync(`${REPO}/${SCHEMA_PATH}`, 'utf8'), jsonSchemaText());
  });
});
