/**
 * The connector files test/helpers/connector-files.ts writes, as a started
 * gateway reads them: a `${VAR}` string stays a placeholder the gateway
 * fills from the environment, and any other string arrives exactly as the
 * test gave it, however much YAML it looks like. Shown through the console's
 * Basic password on /connectors/<id>/events: the one the test gave is
 * taken, anything else is 401.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';

/** Passwords that hand-laid YAML would turn into something else: a comment, a mapping, a number, an alias, a flow sequence, a quoted string. */
const PASSWORDS = {
  comment: 'events-pw #not-a-comment',
  mapping: 'events: pw-with-colon',
  number: '000123456789012',
  alias: '*events-password',
  flow: '[events, password]-x',
  quoted: '"events-password" 1',
};
const FROM_ENV = 'Events-pw-from-env-7';

describe('connector files written by test/helpers/connector-files.ts', () => {
  let gw: TestGateway;
  let dir: string;

  /** The status of an empty event posted to the connector with this password. */
  const post = async (connector: string, password: string) =>
    (
      await curl(`https://localhost:${gw.port}/connectors/${connector}/events`, [
        '--cacert',
        join(dir, 'certs/root-ca.pem'),
        '-u',
        `ws1-events:${password}`,
        '-H',
        'Content-Type: application/json',
        '--data',
        '{}',
      ])
    ).status;

  before(async () => {
    dir = tempDir();
    const tls = await makeTestTls();
    const files = writeTestTlsFiles(tls, dir);
    const connector = (eventsPassword: string) =>
      ws1Settings({ eventsPassword, pkcs12: { password: 'p12-password-1' }, escrowGateway: escrowGatewayOf('https://127.0.0.1:9/', tls, files) });
    for (const [id, password] of Object.entries(PASSWORDS)) writeConnectorFile(join(dir, 'connectors'), id, connector(password));
    writeConnectorFile(join(dir, 'connectors'), 'placeholder', connector('${CONNECTOR_FILES_TEST_PASSWORD}'));
    process.env.CONNECTOR_FILES_TEST_PASSWORD = FROM_ENV;
    gw = await startTestGateway({ dir, overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { workers: 0 } } });
  });
  after(async () => {
    await gw?.stop();
  });

  test('a string that looks like YAML is the password as given: taken, and nothing else is', async () => {
    for (const [id, password] of Object.entries(PASSWORDS)) {
      assert.notEqual(await post(id, password), 401, `${id}: ${password}`);
      assert.equal(await post(id, `${password}x`), 401, `${id}: another password`);
    }
  });

  test('a ${VAR} string is filled from the environment when the gateway loads the file', async () => {
    assert.notEqual(await post('placeholder', FROM_ENV), 401);
    assert.equal(await post('placeholder', '${CONNECTOR_FILES_TEST_PASSWORD}'), 401, 'not the placeholder itself');
  });
});
