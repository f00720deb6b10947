/**
 * Signed content of /mobile/v1, checked as an Identity Agent would and with
 * `openssl` alone: every JSON answer (the policy, a session, a refusal, the
 * signer set) carries detached JWS signatures over its exact bytes; the
 * signer set publishes the certificate chain, which `openssl verify` chains
 * to the dev root; a changed byte fails. Then a rollover to an operator's
 * RSA certificate: while the previous certificate's overlap lasts, an app
 * that knows only it still verifies every answer, and learns the new one
 * from the signer set; once the overlap has ended, it no longer verifies.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { answerSignatures, type CompactParts, fetchRaw, opensslVerifies, pemOf, type RawAnswer } from '../helpers/identity-agent.js';
import { openssl } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';

interface Jwk {
  kid: string;
  alg: string;
  x5c: string[];
  'x5t#S256': string;
  status: string;
  acceptUntil: string;
}

/** What an app keeps: the signing certificates it trusts, by kid. */
type Pins = Map<string, string>;

/** The app's check: some signature by a pinned certificate verifies (with openssl) over the exact body. */
function appAccepts(dir: string, a: RawAnswer, pins: Pins): boolean {
  return answerSignatures(a).some((s) => {
    const pem = pins.get(s.header.kid as string);
    return pem !== undefined && opensslVerifies(dir, s, pem);
  });
}

describe('signed content of /mobile/v1, and rolling the signing certificate over', () => {
  const dir = tempDir();
  const certs = join(dir, 'certs');
  let gw: TestGateway | undefined;
  let ca: Buffer;
  const oldPins: Pins = new Map();
  let oldKid = '';

  const get = (path: string) => fetchRaw(`${gw!.url}${path}`, { ca });
  const start = async (overrides: Record<string, unknown> = {}) => {
    await gw?.stop();
    gw = await startTestGateway({ dir, overrides });
    ca = readFileSync(join(certs, 'root-ca.pem'));
  };

  before(async () => {
    await start();
  });
  after(async () => {
    await gw?.stop();
  });

  test('the signer set is public, cacheable, and names a certificate that chains to the root', async () => {
    const a = await get('/mobile/v1/signers');
    assert.equal(a.status, 200);
    assert.match(String(a.headers['cache-control']), /public/);
    const keys = a.json().keys as Jwk[];
    assert.equal(keys.length, 1);
    const k = keys[0]!;
    assert.equal(k.status, 'current');
    assert.equal(k.alg, 'ES256', 'the dev content-signing key is EC P-256');
    assert.equal(k.kid, createHash('sha256').update(Buffer.from(k.x5c[0]!, 'base64')).digest('base64url'), 'kid is the x5t#S256 thumbprint');
    assert.equal(k['x5t#S256'], k.kid);
    const leaf = join(dir, 'signer.pem');
    const untrusted = join(dir, 'signer-chain.pem');
    writeFileSync(leaf, pemOf(k.x5c[0]!));
    writeFileSync(untrusted, k.x5c.slice(1).map(pemOf).join(''));
    assert.match(openssl(['verify', '-CAfile', join(certs, 'root-ca.pem'), '-untrusted', untrusted, leaf]), /OK/);
    const pem = await get('/mobile/v1/signers.pem');
    assert.equal(pem.status, 200);
    const bundle = join(dir, 'signers.pem');
    writeFileSync(bundle, pem.body);
    assert.equal((pem.body.toString().match(/BEGIN CERTIFICATE/g) ?? []).length, 3, 'the signer, the issuing CA and the root');
    assert.match(openssl(['verify', '-CAfile', join(certs, 'root-ca.pem'), '-untrusted', bundle, leaf]), /OK/);
    oldKid = k.kid;
    oldPins.set(k.kid, pemOf(k.x5c[0]!));
    assert.ok(appAccepts(dir, a, oldPins), 'the signer set is itself signed');
  });

  test('the policy, a session and a refusal are each signed over their exact bytes, for their own path', async () => {
    const policy = await get('/mobile/v1/policy');
    assert.equal(policy.status, 200);
    const [sig] = answerSignatures(policy) as [CompactParts];
    assert.equal(sig.header.typ, 'credgate-content+jws');
    assert.equal(sig.header.kid, oldKid);
    assert.equal(sig.header.path, '/mobile/v1/policy');
    assert.ok(Math.abs((sig.header.iat as number) - Date.now() / 1000) < 60);
    assert.ok(opensslVerifies(dir, sig, oldPins.get(oldKid)!), 'openssl verifies the policy');

    const refused = await fetchRaw(`${gw!.url}/mobile/v1/sessions`, {
      ca,
      method: 'POST',
      body: { request: '0b7c6a55-2f42-4d4e-9d8a-3c3a1d3a9e01', code: '1234' },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.json().error, 'bad_request');
    assert.ok(appAccepts(dir, refused, oldPins), 'a refusal is signed too');
    assert.equal(answerSignatures(refused)[0]!.header.path, '/mobile/v1/sessions');

    const noToken = await get('/mobile/v1/credentials');
    assert.equal(noToken.status, 401);
    assert.ok(appAccepts(dir, noToken, oldPins));
  });

  test('a changed byte of the body, or a body moved to another answer, fails', async () => {
    const policy = await get('/mobile/v1/policy');
    const i = policy.body.indexOf(':') + 1;
    const tampered = Buffer.from(policy.body);
    tampered[i] = tampered[i] === 0x31 ? 0x32 : 0x31;
    assert.ok(!appAccepts(dir, { ...policy, body: tampered }, oldPins), 'one changed byte fails');
    assert.ok(!appAccepts(dir, { ...policy, body: Buffer.concat([policy.body, Buffer.from(' ')]) }, oldPins), 'an appended byte fails');
    const other = await get('/mobile/v1/signers');
    assert.ok(!appAccepts(dir, { ...other, headers: policy.headers }, oldPins), "the policy's signature does not cover another body");
  });

  test('during the overlap both certificates sign: an app holding only the old one verifies, and learns the new one', async () => {
    const newKey = join(dir, 'content-2027-key.pem');
    const newCert = join(dir, 'content-2027.pem');
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      newKey,
      '-out',
      newCert,
      '-days',
      '400',
      '-subj',
      '/CN=Example Bank Content Signing 2027/O=Example Bank',
      '-addext',
      'keyUsage=critical,digitalSignature',
    ]);
    const until = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const previous = {
      cert: join(certs, 'content-signing.pem'),
      key: join(certs, 'content-signing-key.pem'),
      chain: [join(certs, 'issuing-ca.pem'), join(certs, 'root-ca.pem')],
    };
    await start({ mobile: { contentSigning: { cert: newCert, key: newKey, previous: { ...previous, until } } } });

    const policy = await get('/mobile/v1/policy');
    const sigs = answerSignatures(policy);
    assert.equal(sigs.length, 2, 'two signatures during the overlap');
    assert.deepEqual(
      sigs.map((s) => s.header.alg),
      ['RS256', 'ES256'],
      'the current (RSA) one first, then the previous',
    );
    assert.ok(appAccepts(dir, policy, oldPins), 'an app holding only the old certificate still verifies');

    const signers = await get('/mobile/v1/signers');
    assert.ok(appAccepts(dir, signers, oldPins), 'the signer set is signed by the old key too');
    const keys = signers.json().keys as Jwk[];
    assert.deepEqual(
      keys.map((k) => k.status),
      ['current', 'previous'],
    );
    assert.equal(keys[1]!.kid, oldKid);
    assert.equal(keys[1]!.acceptUntil, until, 'the previous one is accepted until the configured end');
    const learned: Pins = new Map(oldPins);
    learned.set(keys[0]!.kid, pemOf(keys[0]!.x5c[0]!));
    const onlyNew = new Map([[keys[0]!.kid, learned.get(keys[0]!.kid)!]]);
    assert.ok(appAccepts(dir, policy, onlyNew), 'the new RSA signature verifies with openssl on its own');

    // Once the overlap has ended (the same configuration, restarted later), only the new certificate signs.
    await start({ mobile: { contentSigning: { cert: newCert, key: newKey, previous: { ...previous, until: new Date(Date.now() - 1000).toISOString() } } } });
    const later = await get('/mobile/v1/policy');
    assert.equal(answerSignatures(later).length, 1);
    assert.ok(!appAccepts(dir, later, oldPins), 'an app that still holds only the old certificate no longer verifies');
    assert.ok(appAccepts(dir, later, learned), 'an app that refreshed its signer set during the overlap does');
    const after = (await get('/mobile/v1/signers')).json().keys as Jwk[];
    assert.deepEqual(
      after.map((k) => k.status),
      ['current'],
      'the previous certificate has left the signer set',
    );
  });
});
