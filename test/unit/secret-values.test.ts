/** The secrets of connector settings, found by their schema's marks, and text cleared of them. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { citrixSchema } from '../../connectors/citrix/schema.js';
import { mobileIronSchema } from '../../connectors/mobileiron/schema.js';
import { workspaceOneSchema } from '../../connectors/workspace-one/schema.js';
import { redact, secretValues, withoutCredentials } from '../../src/config/secret-values.js';

describe('secretValues', () => {
  test('every marked value of a Workspace ONE file, and none of its names, hosts or paths', () => {
    const settings = workspaceOneSchema.parse({
      kind: 'workspace-one',
      inbound: { basic: [{ username: 'ws1-events', password: 'console-password-1' }] },
      policy: { enrolled: { signing: 'smime-signing' }, pkcs12: { password: 'p12-password' } },
      escrowGateway: { url: 'https://eg.example.com', clientPkcs12: '/etc/eg.p12', clientPkcs12Password: 'eg-p12-password' },
      uem: {
        url: 'https://as1.awmdm.com',
        tenantCode: 'tenant-code',
        oauth: { tokenUrl: 'https://na.uemauth.example.com/connect/token', clientId: 'client-id', clientSecret: 'client-secret' },
      },
    });
    assert.deepEqual(secretValues(workspaceOneSchema, settings).sort(), [
      'client-secret',
      'console-password-1',
      'eg-p12-password',
      'p12-password',
      'tenant-code',
    ]);
  });

  test('a schema that transforms its value (Citrix) is walked through the transform', () => {
    const settings = citrixSchema.parse({
      kind: 'citrix',
      inbound: { basic: [{ username: 'xm-pki', password: 'pki-entity-password' }] },
      certsrv: { templates: { XenMobileUser: 'tls-client' } },
      xenmobile: { url: 'https://xms.example.com:4443', login: 'credgate-api', password: 'xms-password' },
    });
    assert.deepEqual(secretValues(citrixSchema, settings).sort(), ['pki-entity-password', 'xms-password']);
  });

  test('of a URL marked secret, the password and query values, not the host', () => {
    const settings = mobileIronSchema.parse({
      kind: 'mobileiron',
      policy: { enrolled: { signing: 'smime-signing' }, pkcs12: { password: 'p12-password' } },
      broker: {
        url: 'mqtts://ens:p%40ss-word@core.example.com:8883/?token=tok-123',
        clientCertificate: { cert: 'c.pem', key: 'k.pem', passphrase: 'key-pass' },
      },
      coreApi: { url: 'https://core.example.com', basic: { username: 'api', password: 'api-password' }, upload: { ceSettingNames: { signing: 'S' } } },
    });
    const found = secretValues(mobileIronSchema, settings);
    for (const s of ['p%40ss-word', 'p@ss-word', 'tok-123', 'key-pass', 'api-password', 'p12-password']) assert.ok(found.includes(s), s);
    assert.ok(!found.some((s) => s.includes('core.example.com')), found.join(', '));
  });
});

describe('redact', () => {
  test('secrets, longest first, and the user and password of any URL', () => {
    assert.equal(
      redact('token endpoint said: bad secret abc-secret-longer (abc-secret)', ['abc-secret', 'abc-secret-longer']),
      'token endpoint said: bad secret [Redacted] ([Redacted])',
    );
    assert.equal(
      withoutCredentials('connected to mqtts://ens:pw@core:8883 and https://a@b.example/x'),
      'connected to mqtts://[Redacted]@core:8883 and https://[Redacted]@b.example/x',
    );
    assert.equal(redact('nothing to hide at https://core.example.com/api', ['unrelated']), 'nothing to hide at https://core.example.com/api');
  });
});
