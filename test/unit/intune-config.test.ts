/** config/connectors/<id>.yaml for kind: intune: what is refused, and how clearly. */
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readConnectorKey } from '../../connectors/intune/connector-key.js';
import { intuneSchema } from '../../connectors/intune/schema.js';
import { ConfigError, parseYaml } from '../../src/config/load.js';
import { REPO } from '../helpers/cli.js';
import { cngPublicBlob } from '../helpers/intune-standins.js';
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
const withPassword = (password: string, key = rsa2048) => ({
  ...base,
  policy: { ...base.policy, pkcs12: { password } },
  pfxImport: { ...base.pfxImport, connectorPublicKey: key },
});

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
    assert.match(
      issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' } }).join(),
      /^pfxImport\.connectorPublicKey: expected the connector's RSA public key/,
    );
    assert.match(
      issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: '/nonexistent/key.pem' } }).join(),
      /pfxImport\.connectorPublicKey: .*ENOENT.*\/nonexistent\/key\.pem/,
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.match(issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey: ec } }).join(), /expected an RSA public key, got ec/);
  });

  test('the connector key may be the CNG blob Export-IntunePublicKey writes by default: as a file or inline base64, read as the same RSA key', () => {
    const dir = tempDir();
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const blob = cngPublicBlob(pair.publicKey);
    assert.equal(blob.subarray(0, 4).toString('latin1'), 'RSA1');
    const file = join(dir, 'PFXEncryptionKey.blob');
    writeFileSync(file, blob);
    for (const connectorPublicKey of [file, blob.toString('base64'), blob.toString('base64').replace(/(.{64})/g, '$1\n')]) {
      const s = intuneSchema.parse({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey } });
      // What the connector encrypts under the key read from the blob, the connector host's private key opens.
      const key = readConnectorKey(s.pfxImport.connectorPublicKey);
      const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha512' };
      assert.equal(privateDecrypt({ key: pair.privateKey, ...oaep }, publicEncrypt({ key, ...oaep }, Buffer.from('pfx-password'))).toString(), 'pfx-password');
      assert.equal(key.asymmetricKeyDetails?.modulusLength, 3072);
    }
    assert.deepEqual(issues(withPassword('x'.repeat(254), file)), [], 'the password limit follows the blob key (3072 bits: 254 bytes)');
  });

  test('a connector key file that is neither PEM nor the public CNG blob is refused, naming the setting, and a private key never loads', () => {
    const dir = tempDir();
    const write = (name: string, data: Buffer | string) => {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    };
    const keyIssue = (connectorPublicKey: string) => issues({ ...base, pfxImport: { ...base.pfxImport, connectorPublicKey } }).join('\n');
    const blob = cngPublicBlob(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    assert.match(
      keyIssue(write('text.txt', 'PFXEncryptionKey\n')),
      /^pfxImport\.connectorPublicKey: expected the connector's RSA public key \(PEM, or the CNG key blob Export-IntunePublicKey writes; inline or a file path\): .*text\.txt holds neither a PEM public key nor a CNG RSA public key blob$/,
    );
    assert.match(
      keyIssue(write('random.bin', Buffer.from('3082010a0282010100', 'hex'))),
      /random\.bin holds neither a PEM public key nor a CNG RSA public key blob/,
    );
    assert.match(keyIssue(write('short.blob', blob.subarray(0, 20))), /^pfxImport\.connectorPublicKey: .*at least 24 bytes/);
    assert.match(keyIssue(write('cut.blob', blob.subarray(0, blob.length - 1))), /lengths \(exponent 3, modulus 256 bytes\) do not add up/);
    const lying = Buffer.from(blob);
    lying.writeUInt32LE(4096, 4);
    assert.match(keyIssue(write('lying.blob', lying)), /says 4096 bits, its modulus has 2048/);
    const privateBlob = Buffer.from(blob);
    privateBlob.write('RSA2', 0, 'latin1');
    assert.match(keyIssue(write('private.blob', privateBlob)), /holds the private key; give the public key Export-IntunePublicKey writes/);
    const privatePem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.match(keyIssue(privatePem), /that PEM holds a private key; give the public key/);
    assert.match(keyIssue(write('private.pem', privatePem)), /that PEM holds a private key/);
    assert.ok(!keyIssue(privatePem).includes(privatePem.split('\n')[1]!), 'the private key is not echoed');
  });

  test('intended purposes Intune does not support for imported PFX certificates (vpn, wifi) are refused, naming the documented ones', () => {
    for (const purpose of ['vpn', 'wifi', 'smime']) {
      const found = issues({ ...base, pfxImport: { ...base.pfxImport, intendedPurpose: { signing: purpose } } });
      assert.deepEqual(found, [
        `pfxImport.intendedPurpose.signing: Intune does not support "${purpose}" as the intended purpose of imported PFX certificates; use unassigned, smimeEncryption, smimeSigning (Intune documentation: "Configure and use imported PKCS certificates with Intune")`,
      ]);
    }
    assert.match(
      issues({ ...base, pfxImport: { ...base.pfxImport, intendedPurpose: { encryption: 'vpn' } } }).join(),
      /^pfxImport\.intendedPurpose\.encryption: Intune does not support "vpn"/,
    );
    assert.deepEqual(issues({ ...base, pfxImport: { ...base.pfxImport, intendedPurpose: { signing: 'unassigned', encryption: 'smimeEncryption' } } }), []);
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
    assert.throws(
      () => parseYaml(bad, file, intuneSchema, { env, envOverrides: false }),
      (err: ConfigError) => err.problems.some((p) => /intune\.yaml:\d+:\d+/.test(p)),
    );
  });
});
