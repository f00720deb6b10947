/** config/connectors/<id>.yaml for kind: intune: what is refused, and how clearly. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { intuneSchema } from '../../connectors/intune/schema.js';
import { ConfigError, parseYaml } from '../../src/config/load.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const pem = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const rsa2048 = pem(2048);

const base = {
  kind: 'intune',
  tenant: 'contoso.onmicrosoft.com',
  clientId: 'app-id',
  clientSecret: 'app-secret',
  policy: { enrolled: { signing: 'smime-signing' }, pkcs12: { password: 'Printable-ASCII-1' } },
  pfxImport: { connectorPublicKey: rsa2048, keyName: 'PFXEncryptionKey' },
};
const issues = (input: unknown) => {
  const r = intuneSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};
const withPassword = (password: string, key = rsa2048) => ({ ...base, policy: { ...base.policy, pkcs12: { password } }, pfxImport: { ...base.pfxImport, connectorPublicKey: key } });

describe('Intune connector settings', () => {
  test('a minimal file validates and gets the Microsoft defaults', () => {
    const s = intuneSchema.parse(base);
    assert.equal(s.loginHost, 'https://login.microsoftonline.com');
    assert.equal(s.graphHost, 'https://graph.microsoft.com');
    assert.equal(s.intuneScope, 'https://api.manage.microsoft.com//.default');
    assert.equal(s.polling.initialSync, 'enroll');
    assert.deepEqual(s.pfxImport.intendedPurpose, { signing: 'smimeSigning', encryption: 'smimeEncryption' });
    assert.equal(s.pfxImport.providerName, 'Microsoft Software Key Storage Provider');
    assert.equal(s.revocation.enabled, false);
  });

  test('the connector key must be an RSA public key: garbage, a missing file and an EC key are named', () => {
    assert.match(issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' } }).join(), /^pfxImport\.connectorPublicKey: expected the connector's RSA public key/);
    assert.match(issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: '/nonexistent/key.pem' } }).join(), /pfxImport\.connectorPublicKey: .*ENOENT.*\/nonexistent\/key\.pem/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.match(issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: ec } }).join(), /expected an RSA public key, got ec/);
  });

  test('the PKCS#12 password must be printable ASCII that RSA-OAEP SHA-512 can carry', () => {
    assert.match(issues(withPassword('Pässwort-123')).join(), /^policy\.pkcs12\.password: Intune needs a printable ASCII password/);
    assert.match(issues(withPassword('tab\there-123')).join(), /printable ASCII/);
    assert.deepEqual(issues(withPassword('x'.repeat(126))), [], '126 bytes fit a 2048-bit key');
    assert.match(issues(withPassword('x'.repeat(127))).join(), /at most 126 characters: RSA-OAEP SHA-512 under the 2048-bit connector key/);
    assert.deepEqual(issues(withPassword('x'.repeat(200), pem(3072))), [], 'a 3072-bit key carries 254 bytes');
  });

  test('exactly one client credential; hosts must be https; no webhook settings', () => {
    const { clientSecret: _s, ...noSecret } = base;
    assert.match(issues(noSecret).join(), /clientSecret: give either clientSecret or clientCertificate/);
    assert.match(issues({ ...base, clientCertificate: { cert: 'a.pem', key: 'a-key.pem' } }).join(), /give either clientSecret or clientCertificate/);
    assert.match(issues({ ...base, graphHost: 'http://graph.example' }).join(), /graphHost: expected an https:\/\/ URL/);
    assert.match(issues({ ...base, inbound: { basic: [] } }).join(), /inbound/);
    assert.match(issues({ ...base, revocation: { maxRequests: 501 } }).join(), /revocation\.maxRequests/);
  });

  test('the shipped example validates with its secrets from the environment; without them it names what is missing', () => {
    const dir = tempDir();
    const file = join(REPO, 'config/connectors/examples/intune.yaml');
    const keyFile = join(dir, 'connector.pem');
    writeFileSync(keyFile, rsa2048);
    const text = readFileSync(file, 'utf8').replace('/etc/credgate/intune-connector-pfx-key.pem', keyFile);
    const env = { INTUNE_CLIENT_ID: 'app-id', INTUNE_CLIENT_SECRET: 'secret', INTUNE_PKCS12_PASSWORD: 'Printable-ASCII-1' };
    const s = parseYaml(text, file, intuneSchema, { env, envOverrides: false });
    assert.equal(s.clientSecret, 'secret');
    assert.equal(s.revocation.enabled, true);
    assert.throws(() => parseYaml(text, file, intuneSchema, { env: {}, envOverrides: false }), ConfigError);
    const bad = text.replace('format: apple', 'format: apple\n    extra: 1');
    assert.throws(() => parseYaml(bad, file, intuneSchema, { env, envOverrides: false }), (err: ConfigError) => err.problems.some((p) => /intune\.yaml:\d+:\d+/.test(p)));
  });
});
