/**
 * Phone-to-phone verification as two phones and an operator would do it.
 * Alice's phone signs a holder proof with the key it collected and gets her
 * badge's assertion and QR code; `openssl` verifies the assertion's ES256
 * signature (raw r || s turned into DER) against the published signer set;
 * a guard's phone, itself a mobile-ID holder, and an admin API caller check
 * it online. Then what an attacker tries: a proof signed by another key
 * under Alice's certificate (all it has is public), a replayed proof, one
 * for another endpoint, too long-lived or expired; assertions expired, of
 * another type or audience, or signed by a stranger; the assertion of a
 * cancelled or disabled mobile ID; and a verifier out of scope, who gets
 * the very answer an unknown mobile ID gets.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HolderAssertions, type ScopeCheck } from '../../src/identity/holder-assertions.js';
import { HolderAuthenticator } from '../../src/identity/holder-auth.js';
import { ContentSigning } from '../../src/pki/content-signing.js';
import { readKeyFile } from '../../src/pki/key-files.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { resolveMasterKey } from '../../src/pki/master-key.js';
import { AuditRepository } from '../../src/store/audit.js';
import { CertificateRepository } from '../../src/store/certificates.js';
import { HolderProofRepository } from '../../src/store/holder-proofs.js';
import { MobileIdRepository } from '../../src/store/mobile-ids.js';
import { PersonRepository } from '../../src/store/people.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { answerSignatures, type CollectedId, collectMobileId, fetchRaw, holderProof, opensslVerifies, pemOf, splitJws } from '../helpers/identity-agent.js';
import { adminCurlArgs } from '../helpers/pki.js';

type Json = Record<string, unknown>;

describe('phone-to-phone verification of a badge', () => {
  let gw: TestGateway;
  let ca: Buffer;
  let certs: string;
  let alice: CollectedId;
  let guard: CollectedId;
  let carol: CollectedId;
  let dave: CollectedId;
  let erin: CollectedId;
  let signerPem: string;
  let signerKid: string;

  const mobile = (path: string, body: Json) => fetchRaw(`${gw.url}/mobile/v1${path}`, { ca, method: 'POST', body });
  const aud = (path: string) => `${gw.url}/mobile/v1${path}`;
  const admin = async (method: string, path: string, body?: unknown) =>
    curl(`${gw.url}/api/v1${path}`, [
      ...adminCurlArgs(certs),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const assertionOf = async (holder: CollectedId) => {
    const r = await mobile('/assertions', { proof: holderProof(holder, aud('/assertions')) });
    assert.equal(r.status, 201, r.body.toString());
    return r.json() as { assertion: string; mobileId: string; issuedAt: string; expiresAt: string; qr: { png: string; svg: string } };
  };
  const guardChecks = async (assertion: string) => {
    const r = await mobile('/assertions/verify', { proof: holderProof(guard, aud('/assertions/verify')), assertion });
    assert.equal(r.status, 200, r.body.toString());
    return r.json();
  };
  /** The gateway's content-signing key, as a test signs what the gateway would never sign. */
  const gatewaySigner = () => new NativeSigner(readKeyFile(join(certs, 'content-signing-key.pem'), resolveMasterKey({ configured: undefined, pkiDir: certs })));

  before(async () => {
    gw = await startTestGateway({
      overrides: {
        credentialProfiles: { badge: { certificates: [{ template: 'tls-client', container: 'none' }] } },
        // The guard sees the people of its own groups; the helpdesk sees everyone.
        auth: { roles: { 'security-guard': { scope: 'groups' }, helpdesk: { scope: 'all' } } },
      },
    });
    certs = join(gw.dir, 'certs');
    ca = readFileSync(join(certs, 'root-ca.pem'));
    const users = ['alice', 'guard', 'carol', 'dave', 'erin'].map((u) => ({
      userName: u,
      displayName: `${u[0]!.toUpperCase()}${u.slice(1)} Example`,
      email: `${u}@example.com`,
      groups: u === 'erin' ? ['branch-b'] : ['lobby'],
      roles: u === 'guard' ? ['security-guard'] : [],
    }));
    const imported = await admin('POST', '/users/import', users);
    assert.ok(imported.status < 300, imported.body);
    alice = await collectMobileId(gw.url, certs, ca, 'alice', 'badge', 'PHONE-ALICE');
    guard = await collectMobileId(gw.url, certs, ca, 'guard', 'badge', 'PHONE-GUARD');
    carol = await collectMobileId(gw.url, certs, ca, 'carol', 'badge', 'PHONE-CAROL');
    dave = await collectMobileId(gw.url, certs, ca, 'dave', 'badge', 'PHONE-DAVE');
    erin = await collectMobileId(gw.url, certs, ca, 'erin', 'badge', 'PHONE-ERIN');
    const keys = (await fetchRaw(`${gw.url}/mobile/v1/signers`, { ca })).json().keys as { kid: string; x5c: string[] }[];
    signerKid = keys[0]!.kid;
    signerPem = pemOf(keys[0]!.x5c[0]!);
  });
  after(async () => {
    await gw?.stop();
  });

  test("the holder's phone gets a signed, five-minute assertion and its QR code; openssl verifies it against the signer set", async () => {
    const r = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions')) });
    assert.equal(r.status, 201, r.body.toString());
    assert.ok(answerSignatures(r).length >= 1, 'the answer itself is signed content');
    const got = r.json() as { assertion: string; expiresAt: string; qr: { png: string; svg: string } };
    const parts = splitJws(got.assertion);
    assert.deepEqual({ alg: parts.header.alg, typ: parts.header.typ, kid: parts.header.kid }, { alg: 'ES256', typ: 'credgate-holder+jwt', kid: signerKid });
    assert.equal(parts.signature.length, 64, 'ES256 in a JWS is raw r || s, 64 bytes');
    assert.ok(opensslVerifies(gw.dir, parts, signerPem), 'openssl verifies the raw ES256 signature once put in DER');
    const claims = JSON.parse(parts.payload.toString()) as Json;
    assert.equal(claims.sub, alice.id);
    assert.equal(claims.aud, 'credgate-holder-verification');
    assert.equal(claims.preferred_username, 'alice');
    assert.equal(claims.name, 'Alice Example');
    assert.equal((claims.exp as number) - (claims.iat as number), 300, 'valid for mobile.assertions.ttl, 5 minutes by default');
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.equal(got.expiresAt, new Date((claims.exp as number) * 1000).toISOString());
    assert.deepEqual([...Buffer.from(got.qr.png, 'base64').subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.match(got.qr.svg, /^<svg[\s\S]+<\/svg>\s*$/);
    const tampered = { ...parts, signingInput: parts.signingInput.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) };
    assert.ok(!opensslVerifies(gw.dir, tampered, signerPem), 'a changed claim fails');
  });

  test("a guard's phone and an admin API caller verify it online and see who the holder is", async () => {
    const { assertion } = await assertionOf(alice);
    const seen = await guardChecks(assertion);
    assert.equal(seen.valid, true, JSON.stringify(seen));
    assert.equal(seen.mobileId, alice.id);
    assert.deepEqual(seen.holder, { userName: 'alice', displayName: 'Alice Example', groups: ['lobby'] });
    // Erin works in another branch: to the guard (scope groups) her badge is as unknown as a made-up one.
    const erins = await guardChecks((await assertionOf(erin)).assertion);
    assert.deepEqual([erins.valid, erins.reason, erins.holder, erins.mobileId], [false, 'unknown', undefined, undefined]);
    const byAdmin = await admin('POST', '/holder-assertions/verify', { assertion });
    assert.equal(byAdmin.status, 200, byAdmin.body);
    assert.equal(byAdmin.json().valid, true);
    const audit = (await gw.db('audit').where({ action: 'mobile-id.verify', subject_id: alice.id }).select('actor')) as { actor: string }[];
    assert.ok(audit.some((a) => a.actor === `mobile-id:${guard.id}`) && audit.some((a) => a.actor === 'client-cert:admin'), 'each check is in the audit trail');
  });

  test('the admin API: the signer set for admins only, and clear 4xx for a bad verification request', async () => {
    const signers = await admin('GET', '/signing/signers');
    assert.equal(signers.status, 200, signers.body);
    const [s] = signers.json().signers as { kid: string; status: string; accepted: boolean; alg: string }[];
    assert.deepEqual([s?.kid, s?.status, s?.accepted, s?.alg], [signerKid, 'current', true, 'ES256']);
    const tokens = new TokenRepository(gw.db);
    const { token } = await tokens.create({ name: 'helpdesk', roles: ['helpdesk'] });
    const asHelpdesk = (method: string, path: string, body?: unknown) =>
      curl(`${gw.url}/api/v1${path}`, [
        '--cacert',
        join(certs, 'root-ca.pem'),
        '-H',
        `Authorization: Bearer ${token}`,
        '-X',
        method,
        ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
      ]);
    assert.equal((await asHelpdesk('GET', '/signing/signers')).status, 403);
    assert.equal((await curl(`${gw.url}/api/v1/signing/signers`, ['--cacert', join(certs, 'root-ca.pem')])).status, 401);
    const { assertion } = await assertionOf(alice);
    assert.equal((await curl(`${gw.url}/api/v1/holder-assertions/verify`, ['--cacert', join(certs, 'root-ca.pem'), '-X', 'POST'])).status, 401);
    assert.equal((await asHelpdesk('POST', '/holder-assertions/verify', { assertion })).json().valid, true, 'any authenticated caller, within its scope');
    for (const body of [{}, { assertion: 42 }, { assertion, extra: true }, [assertion]]) {
      const r = await admin('POST', '/holder-assertions/verify', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.equal(r.json().error, 'bad_request');
    }
    const notJson = await curl(`${gw.url}/api/v1/holder-assertions/verify`, [
      ...adminCurlArgs(certs),
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      '{',
    ]);
    assert.equal(notJson.status, 400);
  });

  test('only the private key proves the holder: a certificate (public) with another key, or an unknown mobile ID, gets the same 401', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions'), { key: stranger }) });
    const unknown = await mobile('/assertions', { proof: holderProof({ ...alice, id: randomUUID() }, aud('/assertions')) });
    const otherCert = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions'), { kid: guard.serial }) });
    for (const r of [forged, unknown, otherCert]) {
      assert.equal(r.status, 401, r.body.toString());
      const { requestId: _, ...rest } = r.json();
      const { requestId: __, ...first } = forged.json();
      assert.deepEqual(rest, first, 'the refusals cannot be told apart');
      assert.equal(r.json().assertion, undefined);
    }
  });

  test('a proof works once, for its endpoint, for at most five minutes', async () => {
    const proof = holderProof(alice, aud('/assertions'));
    assert.equal((await mobile('/assertions', { proof })).status, 201);
    const replayed = await mobile('/assertions', { proof });
    assert.equal(replayed.status, 401);
    assert.match(String(replayed.json().message), /already used/);
    const wrongEndpoint = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions/verify')) });
    assert.equal(wrongEndpoint.status, 401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions'), { iat: now - 400, exp: now - 100 }) });
    assert.equal(expired.status, 401);
    assert.match(String(expired.json().message), /expired/);
    const longLived = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions'), { exp: now + 3600 }) });
    assert.equal(longLived.status, 401);
    const wrongTyp = await mobile('/assertions', { proof: holderProof(alice, aud('/assertions'), { typ: 'JWT' }) });
    assert.equal(wrongTyp.status, 401);
    assert.equal((await mobile('/assertions', { proof: 'not-a-jws' })).status, 401);
    assert.equal((await mobile('/assertions', { proof: holderProof(alice, aud('/assertions')), extra: 1 })).status, 400);
    assert.equal((await mobile('/assertions/verify', { proof: holderProof(guard, aud('/assertions/verify')) })).status, 400, 'no assertion');
  });

  test('an assertion expired, of another type or audience, signed by a stranger, or changed, is not valid', async () => {
    const claims = { iss: gw.url, aud: 'credgate-holder-verification', sub: alice.id, name: 'Alice Example', preferred_username: 'alice' };
    // Signed by the gateway's own key ten minutes ago, for five minutes.
    const past = new ContentSigning(
      { signer: gatewaySigner(), cert: Buffer.from(signerPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), chain: [] },
      undefined,
      () => Date.now() - 600_000,
    );
    const expired = (await past.signToken('credgate-holder+jwt', claims, 300_000)).token;
    const present = new ContentSigning({ signer: gatewaySigner(), cert: Buffer.from(signerPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), chain: [] });
    const otherType = (await present.signToken('credgate-content+jws', claims, 300_000)).token;
    const otherAudience = (await present.signToken('credgate-holder+jwt', { ...claims, aud: 'https://elsewhere.example' }, 300_000)).token;
    const strangerSigning = new ContentSigning({
      signer: new NativeSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      cert: Buffer.from(signerPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'),
      chain: [],
    });
    const byStranger = (await strangerSigning.signToken('credgate-holder+jwt', claims, 300_000)).token;
    const { assertion } = await assertionOf(alice);
    const [h, p, s] = assertion.split('.') as [string, string, string];
    const otherPerson = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: guard.id })).toString('base64url');
    const cases: [string, string][] = [
      [expired, 'expired'],
      [otherType, 'type'],
      [otherAudience, 'audience'],
      [byStranger, 'signature'],
      [`${h}.${otherPerson}.${s}`, 'signature'],
      ['eyJhbGciOiJub25lIn0.e30.', 'signature'],
      ['garbage', 'malformed'],
    ];
    for (const [token, reason] of cases) {
      const seen = await guardChecks(token);
      assert.equal(seen.valid, false, `${reason}: ${JSON.stringify(seen)}`);
      assert.equal(seen.reason, reason);
      assert.equal(seen.holder, undefined, 'nothing of the holder');
    }
    // A content signature (the detached JWS over an answer) with its body put back is not an assertion either.
    const answer = await fetchRaw(`${gw.url}/mobile/v1/policy`, { ca });
    const content = String(answer.headers['jws-signature'])
      .split(', ')[0]!
      .replace('..', `.${answer.body.toString('base64url')}.`);
    assert.equal((await guardChecks(content)).reason, 'type');
  });

  test('a cancelled or disabled mobile ID gets no assertion, and its earlier assertion no longer verifies online', async () => {
    const carols = (await assertionOf(carol)).assertion;
    const daves = (await assertionOf(dave)).assertion;
    assert.equal((await admin('POST', `/mobile-ids/${carol.id}/cancel`, { reason: 'keyCompromise', note: 'phone lost' })).status, 200);
    assert.equal((await admin('POST', `/mobile-ids/${dave.id}/disable`, {})).status, 200);
    for (const [holder, status] of [
      [carol, 'cancelled'],
      [dave, 'disabled'],
    ] as const) {
      const r = await mobile('/assertions', { proof: holderProof(holder, aud('/assertions')) });
      assert.ok(r.status === 403, `${status}: ${r.status} ${r.body.toString()}`);
      assert.equal(r.json().assertion, undefined);
    }
    for (const [assertion, status] of [
      [carols, 'cancelled'],
      [daves, 'disabled'],
    ] as const) {
      const seen = await guardChecks(assertion);
      assert.equal(seen.valid, false);
      assert.equal(seen.reason, 'not_active');
      assert.equal(seen.status, status);
    }
    // A guard whose own mobile ID is disabled cannot verify anyone.
    assert.equal((await admin('POST', `/mobile-ids/${guard.id}/disable`, {})).status, 200);
    const { assertion } = await assertionOf(alice);
    const r = await mobile('/assertions/verify', { proof: holderProof(guard, aud('/assertions/verify')), assertion });
    assert.equal(r.status, 403);
    assert.equal((await admin('POST', `/mobile-ids/${guard.id}/enable`, {})).status, 200);
  });

  test('a verifier out of scope gets exactly what an unknown mobile ID gets', async () => {
    const db = gw.db;
    const people = new PersonRepository(db);
    const mobileIds = new MobileIdRepository(db);
    const onlySelf: ScopeCheck = { canSee: async (viewer, person) => viewer.name === person.userName };
    const signing = gw.mobile.signing!;
    const service = new HolderAssertions({
      db,
      auth: new HolderAuthenticator({
        mobileIds,
        certificates: new CertificateRepository(db),
        people,
        proofs: new HolderProofRepository(db),
        profiles: gw.mobile.profiles,
      }),
      signing,
      mobileIds,
      people,
      audit: new AuditRepository(db),
      scope: onlySelf,
      ttlMs: 300_000,
      baseUrl: () => gw.url,
      log: { info() {}, warn() {}, error() {} } as never,
    });
    const { assertion } = await assertionOf(alice);
    const viewer = { actor: 'mobile-id:guard', name: 'guard', roles: [] };
    const outOfScope = await service.verify(viewer, assertion);
    const unknownId = (await signing.signToken('credgate-holder+jwt', { aud: 'credgate-holder-verification', sub: randomUUID() }, 300_000)).token;
    const unknown = await service.verify(viewer, unknownId);
    assert.deepEqual(outOfScope, unknown);
    assert.deepEqual(outOfScope, { valid: false, reason: 'unknown', message: 'this gateway cannot vouch for the holder of this assertion' });
    assert.equal((await service.verify({ ...viewer, name: 'alice' }, assertion)).valid, true, 'in scope (self), the same assertion verifies');
  });
});
