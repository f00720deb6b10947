/** Credential profiles and OTA settings: defaults, and mistakes reported before anything serves. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCredentialProfiles } from '../../src/app/ota.js';
import { StartupError } from '../../src/app/errors.js';
import { parseConfig } from '../../src/config/load.js';

test('defaults: an smime credential profile for the system store; OTA on, with Apple-facing texts and AES', () => {
  const config = parseConfig('', 'f', {});
  assert.deepEqual(config.credentialProfiles.smime?.certificates, [
    { template: 'smime-signing', container: 'system-store' },
    { template: 'smime-encryption', container: 'system-store' },
  ]);
  assert.equal(config.ota.enabled, true);
  assert.equal(config.ota.scepProfile, 'default');
  assert.equal(config.ota.encryption, 'aes-256-cbc');
  assert.deepEqual(config.ota.deviceCa, []);
  checkCredentialProfiles(config);
});

test('a credential profile naming a missing template is a StartupError that says where', () => {
  const config = parseConfig('credentialProfiles:\n  vpn:\n    certificates:\n      - template: vpn-cert\n', 'f', {});
  assert.throws(
    () => checkCredentialProfiles(config),
    (err: unknown) => err instanceof StartupError && /credentialProfiles\.vpn\.certificates\[0\]\.template: no template named "vpn-cert"/.test(err.message),
  );
});

test('an unknown container and a malformed payload identifier are refused by the schema', () => {
  assert.throws(
    () => parseConfig('credentialProfiles:\n  x:\n    certificates:\n      - { template: tls-client, container: keychain }\n', 'f', {}),
    /container/,
  );
  assert.throws(() => parseConfig('ota:\n  payloadIdentifier: "not reverse dns"\n', 'f', {}), /reverse-DNS/);
});
