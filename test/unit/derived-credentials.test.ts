/** PIV card checks (chain, dates, names), issuer DNs as card management systems write them, and the configuration rules of derived credentials. */
import assert from 'node:assert/strict';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { mobileProfiles } from '../../src/app/mobile.js';
import { parseConfig } from '../../src/config/load.js';
import { buildCertificate, type CertificateSpec } from '../../src/pki/certificate.js';
import { certificatePolicies } from '../../src/pki/extensions.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { dnKey, PivCardError, PivTrust } from '../../src/pki/piv.js';
import { presetPurpose } from '../../src/pki/presets.js';

const DAY = 86_400_000;

async function cert(cn: string, issuer: { der: Buffer; key: KeyObject } | undefined, extra: Partial<CertificateSpec> = {}) {
  const { privateKey, publicKey } = await generateKey('ec-p256');
  const c = await buildCertificate({
    subject: [{ type: 'CN', value: cn }],
    publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signer: new NativeSigner(issuer?.key ?? privateKey),
    ...(issuer && { issuer: { cert: issuer.der } }),
    ...extra,
  });
  return { der: c.der, key: privateKey };
}
const ca = (cn: string, issuer?: { der: Buffer; key: KeyObject }) => cert(cn, issuer, { ca: {}, keyUsage: { keyCertSign: true, cRLSign: true } });
const refused = (fn: () => unknown, kind: PivCardError['kind'], pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof PivCardError && err.kind === kind && pattern.test(err.message));

test('a card chains through the intermediate it sends to a trusted root; without it, or signed by another key, it does not', async () => {
  const root = await ca('PIV Root');
  const intermediate = await ca('PIV Issuing CA', root);
  const card = await cert('JANE', intermediate, {
    subjectAltNames: [
      { type: 'upn', value: 'jane@corp.example.com' },
      { type: 'email', value: 'jane@example.com' },
    ],
  });
  const trust = new PivTrust([new X509Certificate(root.der)], 'any');
  const seen = trust.verify(card.der, [intermediate.der]);
  assert.deepEqual([seen.upns, seen.emails, seen.subject, seen.issuer], [['jane@corp.example.com'], ['jane@example.com'], 'CN=JANE', 'CN=PIV Issuing CA']);
  refused(() => trust.verify(card.der, []), 'untrusted', /does not chain to a trusted PIV CA/);
  // Same issuer name, another key: the name matches, the signature does not.
  const impostorCa = await ca('PIV Issuing CA', root);
  const forged = await cert('JANE', { der: intermediate.der, key: impostorCa.key });
  refused(() => trust.verify(forged.der, [intermediate.der, impostorCa.der]), 'untrusted', /does not chain/);
  // A configured intermediate is an anchor too.
  assert.equal(PivTrust.fromPem([new X509Certificate(intermediate.der).toString()], 'any').verify(card.der).serial, seen.serial);
});

test('dates of the card and of each CA are checked; a CA certificate is no card', async () => {
  const root = await ca('PIV Root');
  const trust = new PivTrust([new X509Certificate(root.der)], 'any');
  const later = await cert('LATER', root, { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 2 * DAY) });
  refused(() => trust.verify(later.der), 'not-yet-valid', /the card certificate is not valid before/);
  const card = await cert('JANE', root);
  refused(() => trust.verify(card.der, [], Date.now() + 40 * DAY), 'expired', /the card certificate expired/);
  const sub = await ca('Sub CA', root);
  refused(() => trust.verify(sub.der), 'untrusted', /CA certificate, not a card/);
  refused(() => trust.verify(Buffer.from('not a certificate')), 'malformed', /cannot be read/);
});

test('only a PIV Authentication certificate derives by default; Card Authentication (no PIN) and policy-less certificates are refused, configured policies or "any" widen that', async () => {
  const root = await ca('PIV Root');
  const anchors = [new X509Certificate(root.der)];
  const under = (...oids: string[]) => cert('JANE', root, oids.length > 0 ? { extraExtensions: [certificatePolicies(oids)] } : {});
  const [pivAuth, pivI, cardAuth, none, corporate] = await Promise.all([
    under('2.16.840.1.101.3.2.1.3.7', '2.16.840.1.101.3.2.1.3.13'),
    under('2.16.840.1.101.3.2.1.3.18'),
    under('2.16.840.1.101.3.2.1.3.17'),
    under(),
    under('1.3.6.1.4.1.99999.1.2'),
  ]);
  const trust = new PivTrust(anchors);
  assert.deepEqual(trust.verify(pivAuth.der).policies, ['2.16.840.1.101.3.2.1.3.7', '2.16.840.1.101.3.2.1.3.13']);
  assert.ok(trust.verify(pivI.der));
  refused(() => trust.verify(cardAuth.der), 'wrong-certificate', /Card Authentication certificate.*choose the PIV Authentication certificate/);
  refused(
    () => trust.verify(none.der),
    'wrong-certificate',
    /under no certificate policy; a PIV Authentication certificate \(policy 2\.16\.840\.1\.101\.3\.2\.1\.3\.13 or 2\.16\.840\.1\.101\.3\.2\.1\.3\.18\) is needed/,
  );
  refused(() => trust.verify(corporate.der), 'wrong-certificate', /under certificate policies 1\.3\.6\.1\.4\.1\.99999\.1\.2;/);
  const corporateTrust = new PivTrust(anchors, ['1.3.6.1.4.1.99999.1.2']);
  assert.ok(corporateTrust.verify(corporate.der));
  refused(() => corporateTrust.verify(pivAuth.der), 'wrong-certificate', /policy 1\.3\.6\.1\.4\.1\.99999\.1\.2\) is needed/);
  assert.ok(new PivTrust(anchors, 'any').verify(none.der));
  // The chain is checked before the policy: a stranger's card learns nothing about what is accepted.
  const stranger = await cert('JANE', await ca('Other Root'));
  refused(() => trust.verify(stranger.der), 'untrusted', /does not chain/);
});

test('derivedCredentials.acceptPolicies: dotted OIDs or "any"; anything else is refused at start', () => {
  const accepts = (value?: string) =>
    parseConfig(value === undefined ? '' : `derivedCredentials:\n  acceptPolicies: ${value}\n`, 'f', {}).derivedCredentials.acceptPolicies;
  assert.deepEqual(accepts(), ['2.16.840.1.101.3.2.1.3.13', '2.16.840.1.101.3.2.1.3.18']);
  assert.equal(accepts('any'), 'any');
  assert.deepEqual(accepts('[1.3.6.1.4.1.99999.1.2]'), ['1.3.6.1.4.1.99999.1.2']);
  assert.throws(() => accepts('[PIV Authentication]'), /acceptPolicies[\s\S]*dotted OID/);
  assert.throws(() => accepts('[]'), /acceptPolicies/);
});

test('issuer DNs compare in any order, with "/" or ",", without case; nonsense is refused', () => {
  const key = dnKey('C=US, O=Example Agency, CN=Example PIV CA');
  assert.equal(dnKey('CN=example piv ca,O=Example Agency,C=US'), key);
  assert.equal(dnKey('/C=US/O=Example Agency/CN=Example PIV CA'), key);
  assert.equal(dnKey('C=US\nO=Example Agency\nCN=Example PIV CA'), key);
  assert.notEqual(dnKey('C=US, O=Other Agency, CN=Example PIV CA'), key);
  for (const bad of ['', 'Example PIV CA', '/nonsense']) assert.throws(() => dnKey(bad), PivCardError);
});

test('purposes follow the presets: client authentication, signing, encryption', () => {
  assert.deepEqual((['derived-piv-auth', 'tls-client', 'device-identity', 'smime-signing', 'smime-encryption'] as const).map(presetPurpose), [
    'authentication',
    'authentication',
    'authentication',
    'signing',
    'encryption',
  ]);
});

test('AppConnect certificates may carry older decryption keys, not historic-only; derived profiles are not validated by a second person', () => {
  const profile = (cert: string, extra = '') => parseConfig(`credentialProfiles:\n  p:\n    certificates: [${cert}]\n${extra}`, 'f', {});
  const ok = profile('{ template: smime-encryption, container: mobileiron-appconnect, includeHistoric: true }');
  assert.equal(mobileProfiles(ok).p!.certificates[0]!.purpose, 'encryption');
  assert.throws(
    () => profile('{ template: smime-encryption, container: mobileiron-appconnect, historic: historic-only }'),
    /historic certificates cannot be provisioned to mobileiron-appconnect/,
  );
  assert.throws(() => profile('{ template: tls-client }', '    encoding: derived-credential\n    requireValidation: true\n'), /vouched for by the PIV card/);
  assert.throws(
    () => mobileProfiles(profile('{ template: smime-signing, container: mobileiron-appconnect, includeHistoric: true }')),
    /must be an encryption certificate; "smime-signing" is for signing/,
  );
  assert.equal(
    mobileProfiles(profile('{ template: tls-client, purpose: signing }')).p!.certificates[0]!.purpose,
    'signing',
    'the profile says, over the preset',
  );
  const d = parseConfig('', 'f', {}).derivedCredentials;
  assert.deepEqual([d.pivTrust, d.match, d.maxRequestsPerDay, d.rederiveBy], [[], ['upn', 'email'], 5, 80]);
  assert.throws(() => parseConfig('derivedCredentials:\n  rederiveBy: 100\n', 'f', {}), /rederiveBy/);
});
