/**
 * Mobile identities as a person and a phone live them: an operator requests
 * a mobile ID, the email reaches a real SMTP server, the code is read from
 * it, a phone collects over HTTPS, `openssl pkcs12` opens what it got; after
 * a cancel `openssl crl` lists the serial and `openssl ocsp` says revoked.
 * Also: the session limit (503 + Retry-After), lockout after five wrong
 * codes (by user name see mobile-sessions.test.ts), key-store filtering
 * (Citrix), validation by a second person, roles, device restrictions,
 * disable/enable, unlock, replace and renewal notices.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ParsedMail } from 'mailparser';
import request from 'supertest';
import { unlockResponse } from '../../src/identity/lifecycle.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { startMailbox, startSmsGateway, type Mailbox, type SmsGateway } from '../helpers/notify-standins.js';
import { openssl } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

type Json = Record<string, unknown>;
interface Credential {
  serial: string;
  template: string;
  container: string;
  kind: string;
  format: string;
  pkcs12: string;
  password: string;
}

const tlsClient = [{ template: 'tls-client', container: 'none' }];
const iphone = (serial: string, keyStores: string[] = ['system-store']) => ({ serial, platform: 'ios', model: 'iPhone15,2', osVersion: '17.4', keyStores });

describe('mobile identities, as a person and a phone', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let rootPem: Buffer;
  let mailbox: Mailbox;
  let sms: SmsGateway;
  let approverToken: string;
  let bobToken: string;
  const secrets: string[] = [];

  const api = (method: string, path: string, body?: unknown, token?: string) =>
    curl(`${base}/api/v1${path}`, [
      ...(token ? ['--cacert', join(dir, 'certs/root-ca.pem'), '-H', `Authorization: Bearer ${token}`] : adminCurlArgs(join(dir, 'certs'))),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const requestId = async (body: Json, token?: string) => {
    const r = await api('POST', '/mobile-ids', body, token);
    assert.equal(r.status, 201, r.body);
    return r.json() as { mobileId: { id: string; status: string }; code?: string; link: string; notifications: Json[]; qr?: { png: string; svg: string } };
  };
  const mailFor = (id: string) => mailbox.next((m) => (m.text ?? '').includes(id));
  const codeIn = (mail: ParsedMail) => {
    const code = /one-time code: (\d[\d ]*\d)/.exec(mail.text ?? '')?.[1];
    assert.ok(code, `no code in: ${mail.text}`);
    secrets.push(code.replace(/ /g, ''));
    return code;
  };
  const phone = {
    start: (body: Json) => request(base).post('/mobile/v1/sessions').ca(rootPem).send(body),
    fetch: (token: string) => request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${token}`),
    ack: (token: string) => request(base).post('/mobile/v1/ack').ca(rootPem).set('Authorization', `Bearer ${token}`),
  };
  /** Request for a user, read the code from the email, start a session. */
  const session = async (user: string, credentialProfile: string, device: Json) => {
    const { mobileId } = await requestId({ user, credentialProfile });
    const code = codeIn(await mailFor(mobileId.id));
    const s = await phone.start({ request: mobileId.id, code, device });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    secrets.push(s.body.token as string);
    return { id: mobileId.id, token: s.body.token as string, code };
  };
  const collect = async (token: string) => {
    const r = await phone.fetch(token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const c of r.body.credentials as Credential[]) secrets.push(c.password);
    return r.body as { credentials: Credential[]; skipped: Json[]; unlockKey: string; authentication: string[] };
  };
  const openP12 = (c: Credential) => {
    const file = join(dir, `${c.serial}.p12`);
    writeFileSync(file, Buffer.from(c.pkcs12, 'base64'));
    const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${c.password}`, '-nodes']);
    assert.equal(openssl(['x509', '-noout', '-pubkey'], pem), openssl(['pkey', '-pubout'], pem), 'the key belongs to the certificate');
    return pem;
  };
  const certStatus = async (serial: string) => ((await api('GET', `/certificates/${serial}`)).json().certificate as { status: string }).status;

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    [mailbox, sms] = await Promise.all([startMailbox(), startSmsGateway()]);
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        // bob's role reaches everyone here, so what is tested is what the credential profiles let him do (operator-scope.test.ts tests scopes).
        auth: { roles: { 'mobile-user': { scope: 'all' } } },
        notify: {
          email: { host: '127.0.0.1', port: mailbox.port, requireTls: false, from: 'Example Bank <certificates@example.com>' },
          sms: { url: `${sms.url}/send`, headers: { Authorization: 'Bearer sms-gateway-secret' } },
        },
        mobile: {
          otpDelivery: 'email',
          maxSessions: 3,
          retryAfter: '7s',
          policy: { logLevel: 4, adminEmail: 'mobile-logs@example.com', minRetryDelay: '15s' },
          renewal: { noticeBefore: '400d', channels: ['email', 'sms'] },
        },
        credentialProfiles: {
          smime: { certificates: [{ template: 'smime-signing' }, { template: 'smime-encryption', includeHistoric: true }], authentication: ['pin', 'face'] },
          citrix: {
            certificates: [
              { template: 'smime-signing', container: 'citrix-securevault' },
              { template: 'device-identity', container: 'system-store' },
              { template: 'tls-client', container: 'none' },
            ],
          },
          validated: { certificates: tlsClient, requireValidation: true },
          'known-only': { certificates: tlsClient, deviceRestriction: 'known' },
          'self-service': { certificates: tlsClient, roles: { request: ['mobile-user'], receive: ['mobile-user'] } },
          'staff-only': { certificates: tlsClient, roles: { receive: ['staff'] } },
        },
      },
    });
    rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
    const tokens = new TokenRepository(gw.db);
    approverToken = (await tokens.create({ name: 'approver', roles: ['admin'] })).token;
    bobToken = (await tokens.create({ name: 'bob', roles: [] })).token;
    const users = [
      { userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com', mobile: '+447700900123', upn: 'jane@corp.example.com' },
      { userName: 'bob', displayName: 'Bob Jones', email: 'bob@example.com', roles: ['mobile-user'] },
      { userName: 'nocontact', displayName: 'No Contact' },
      { userName: 'carl', displayName: 'Carl Citrix', email: 'carl@example.com' },
      { userName: 'cara', displayName: 'Cara Citrix', email: 'Cara.Citrix@Example.COM' },
    ];
    const imported = await api('POST', '/users/import', users);
    assert.equal(imported.status, 200, imported.body);
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([mailbox?.stop(), sms?.stop()]);
  });

  test('request → email → code → phone collects over HTTPS → openssl opens the PKCS#12 → cancel → CRL and OCSP say revoked', async () => {
    const created = await requestId({ user: 'jane', credentialProfile: 'smime' });
    assert.equal(created.mobileId.status, 'ready');
    assert.equal(created.code, undefined, 'the code goes by email (mobile.otpDelivery), not to the operator');
    assert.deepEqual(created.notifications, [{ channel: 'email', what: 'notification+code', to: 'j***@example.com', sent: true }]);

    const mail = await mailFor(created.mobileId.id);
    assert.equal(mail.subject, 'Your mobile ID is ready to collect');
    assert.equal((mail.to as { text: string }).text, 'jane@example.com');
    assert.match(mail.html as string, /Hello Jane Smith/);
    const qr = mail.attachments.find((a) => a.cid === 'qr');
    assert.ok(qr && qr.content.subarray(1, 4).toString() === 'PNG', 'the QR code is an inline PNG');
    assert.match(mail.html as string, /<img src="data:image\/png;base64,/, 'the HTML shows the inline QR code (cid:qr)');
    const code = codeIn(mail);
    assert.match(code, /^\d{4} \d{4}$/, 'the profile default 04-08N: 8 digits, shown in groups of four');

    const device = iphone('F2LX1234ABCD');
    const wrongDevice = await phone.start({ request: created.mobileId.id, code, device: { ...device, platform: 'nokia' } });
    assert.equal(wrongDevice.status, 400);
    const started = await phone.start({ request: created.mobileId.id, code: code.replace(' ', ''), device });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.body.credentialProfile, 'smime');
    assert.deepEqual(started.body.authentication, ['pin', 'face']);
    const token = started.body.token as string;
    secrets.push(token);
    const again = await phone.start({ request: created.mobileId.id, code, device });
    assert.equal(again.status, 410, 'a code works once');
    assert.match(again.body.message as string, /already been used/);

    const got = await collect(token);
    assert.deepEqual(
      got.credentials.map((c) => [c.template, c.container, c.kind, c.format]),
      [
        ['smime-signing', 'system-store', 'new', 'apple'],
        ['smime-encryption', 'system-store', 'new', 'apple'],
      ],
    );
    assert.deepEqual(got.skipped, []);
    const signing = got.credentials[0]!;
    const pem = openP12(signing);
    assert.match(openssl(['x509', '-noout', '-subject'], pem), /CN ?= ?Jane Smith/);
    assert.match(
      openssl(['pkcs12', '-in', join(dir, `${signing.serial}.p12`), '-passin', `pass:${signing.password}`, '-info', '-noout'], ''),
      /pbeWithSHA1And3-KeyTripleDES-CBC/,
      'the Apple format for iOS',
    );
    assert.equal((await phone.fetch(token)).status, 409, 'one delivery per session');

    const acked = await phone.ack(token);
    assert.equal(acked.status, 200);
    assert.deepEqual(acked.body, { mobileId: created.mobileId.id, status: 'issued' });
    assert.equal((await phone.fetch(token)).status, 401, 'the session ended');
    const issued = (await api('GET', `/mobile-ids/${created.mobileId.id}`)).json().mobileId as { status: string; deviceId: string; serials: string[] };
    assert.equal(issued.status, 'issued');
    assert.deepEqual(
      issued.serials,
      got.credentials.map((c) => c.serial),
    );
    const dev = (await api('GET', '/devices/F2LX1234ABCD')).json().device as { status: string; ownerId: string; id: string };
    assert.equal(dev.status, 'issued');
    assert.equal(dev.id, issued.deviceId);
    assert.equal(dev.ownerId, ((await api('GET', '/users/jane')).json().user as { id: string }).id);

    const cancelled = await api('POST', `/mobile-ids/${created.mobileId.id}/cancel`, { reason: 'keyCompromise', note: 'phone lost' });
    assert.equal(cancelled.status, 200, cancelled.body);
    assert.equal((cancelled.json().mobileId as { status: string }).status, 'cancelled');
    assert.equal((await api('POST', `/mobile-ids/${created.mobileId.id}/cancel`, {})).status, 409);
    assert.equal(((await api('GET', '/devices/F2LX1234ABCD')).json().device as { status: string }).status, 'cancelled');

    const crlFile = join(dir, 'dev.crl');
    assert.equal((await curl(`${base}/pki/dev.crl`, ['--cacert', join(dir, 'certs/root-ca.pem'), '-o', crlFile])).status, 200);
    const crlText = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    for (const c of got.credentials) assert.match(crlText, new RegExp(`Serial Number: ${c.serial.toUpperCase()}[\\s\\S]+?Key Compromise`));

    const leaf = join(dir, 'signing.pem');
    writeFileSync(leaf, openssl(['x509'], pem));
    const issuing = join(dir, 'certs/issuing-ca.pem');
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, readFileSync(issuing, 'utf8') + rootPem.toString());
    const [req, resp] = [join(dir, 'ocsp.req'), join(dir, 'ocsp.resp')];
    openssl(['ocsp', '-issuer', issuing, '-cert', leaf, '-reqout', req]);
    const r = await curl(`${base}/pki/ocsp`, [
      '--cacert',
      join(dir, 'certs/root-ca.pem'),
      '-H',
      'Content-Type: application/ocsp-request',
      '--data-binary',
      `@${req}`,
      '-o',
      resp,
    ]);
    assert.equal(r.status, 200);
    const answer = openssl(['ocsp', '-respin', resp, '-CAfile', chain, '-issuer', issuing, '-cert', leaf, '-no_nonce']);
    assert.match(answer, /Response verify OK/);
    assert.match(answer, /: revoked[\s\S]+Reason: keyCompromise/);

    const actions = ((await api('GET', `/audit?subjectId=${created.mobileId.id}`)).json().entries as { action: string }[]).map((e) => e.action).reverse();
    assert.deepEqual(actions, ['mobile-id.request', 'mobile-id.session', 'mobile-id.deliver', 'mobile-id.issue', 'mobile-id.cancel']);
  });

  test('a second collection of the escrowed encryption certificate brings the earlier one as historic', async () => {
    const { id, token } = await session('jane', 'smime', iphone('F2LX1234ABCE'));
    const got = await collect(token);
    // The first mobile ID's certificates were revoked with it, so nothing is historic yet; this second one's is, for the third.
    assert.deepEqual(
      got.credentials.map((c) => c.kind),
      ['new', 'new'],
    );
    assert.equal((await phone.ack(token)).status, 200);
    const third = await session('jane', 'smime', iphone('F2LX1234ABCF'));
    const more = await collect(third.token);
    assert.deepEqual(
      more.credentials.map((c) => [c.template, c.kind]),
      [
        ['smime-signing', 'new'],
        ['smime-encryption', 'new'],
        ['smime-encryption', 'historic'],
      ],
    );
    assert.equal(more.credentials[2]!.serial, got.credentials[1]!.serial, 'the earlier escrowed key, to read old mail');
    openP12(more.credentials[2]!);
    assert.equal((await phone.ack(third.token)).status, 200);
    assert.equal((await api('POST', `/mobile-ids/${third.id}/cancel`, {})).status, 200);
    assert.equal(await certStatus(got.credentials[1]!.serial), 'valid', "cancelling a mobile ID does not revoke another one's historic certificates");
    assert.equal((await api('POST', `/mobile-ids/${id}/cancel`, {})).status, 200);
  });

  test('past the maximum session count new sessions get 503 with Retry-After; once one ends, the next starts', async () => {
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await session('jane', 'smime', iphone(`LIMIT000${i}`)));
    const { mobileId } = await requestId({ user: 'jane', credentialProfile: 'smime' });
    const code = codeIn(await mailFor(mobileId.id));
    const busy = await phone.start({ request: mobileId.id, code, device: iphone('LIMIT0009') });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '7');
    assert.match(busy.body.message as string, /busy/);
    assert.equal(
      ((await api('GET', `/mobile-ids/${mobileId.id}`)).json().mobileId as { failedAttempts: number }).failedAttempts,
      0,
      'a refused session does not count as a wrong code',
    );

    await api('POST', `/mobile-ids/${open[0]!.id}/cancel`, {});
    const next = await phone.start({ request: mobileId.id, code, device: iphone('LIMIT0009') });
    assert.equal(next.status, 201, JSON.stringify(next.body));
    for (const id of [...open.slice(1).map((o) => o.id), mobileId.id]) assert.equal((await api('POST', `/mobile-ids/${id}/cancel`, {})).status, 200);
  });

  test('five wrong codes lock the request; then even the right code is refused', async () => {
    const { mobileId } = await requestId({ user: 'jane', credentialProfile: 'smime' });
    const code = codeIn(await mailFor(mobileId.id));
    const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    for (let left = 4; left >= 1; left--) {
      const r = await phone.start({ request: mobileId.id, code: wrong, device: iphone('GUESS0001') });
      assert.equal(r.status, 401);
      assert.match(r.body.message as string, new RegExp(`${left} attempts? left`));
    }
    const fifth = await phone.start({ request: mobileId.id, code: wrong, device: iphone('GUESS0001') });
    assert.equal(fifth.status, 423);
    assert.match(fifth.body.message as string, /locked after 5 wrong codes/);
    const right = await phone.start({ request: mobileId.id, code, device: iphone('GUESS0001') });
    assert.equal(right.status, 423);
    const m = (await api('GET', `/mobile-ids/${mobileId.id}`)).json().mobileId as { status: string; failedAttempts: number };
    assert.deepEqual([m.status, m.failedAttempts], ['locked', 5]);
    const byName = await phone.start({ userName: 'jane', code, device: iphone('GUESS0001') });
    assert.equal(byName.status, 401, 'by user name too, with the answer any user name gets, so the lock is not told to whoever knows the name');
    const audit = (await api('GET', `/audit?subjectId=${mobileId.id}&action=mobile-id.lock`)).json().entries as Json[];
    assert.equal(audit.length, 1);
  });

  test("a Citrix store receives only its containers (and the app's own); the system store is skipped", async () => {
    const android = { serial: 'R58M1234567', platform: 'android', model: 'SM-G991B', keyStores: ['citrix-securevault'] };
    const { id, token } = await session('carl', 'citrix', android);
    const got = await collect(token);
    assert.deepEqual(
      got.credentials.map((c) => [c.template, c.container, c.format]),
      [
        ['smime-signing', 'citrix-securevault', 'modern'],
        ['tls-client', 'none', 'modern'],
      ],
    );
    assert.deepEqual(got.skipped, [{ template: 'device-identity', container: 'system-store' }]);
    for (const c of got.credentials) openP12(c);
    assert.equal((await phone.ack(token)).status, 200);

    const plain = await session('carl', 'citrix', { serial: 'R58M7654321', platform: 'android', keyStores: [] });
    const only = await collect(plain.token);
    assert.deepEqual(
      only.credentials.map((c) => c.container),
      ['none'],
      'a phone without Citrix gets the uncontained certificate only',
    );
    assert.equal((await phone.ack(plain.token)).status, 200);
    for (const m of [id, plain.id]) await api('POST', `/mobile-ids/${m}/cancel`, {});
  });

  test('Citrix SecureVault: the operator is warned of an email address not in lower case; SecureVault certificates carry it lower-case', async () => {
    const created = (await requestId({ user: 'cara', credentialProfile: 'citrix' })) as Awaited<ReturnType<typeof requestId>> & { warnings?: string[] };
    assert.equal(created.warnings?.length, 1);
    assert.match(
      created.warnings[0]!,
      /\(Cara\.Citrix@Example\.COM\) is not in lower case: its Citrix SecureVault certificates carry cara\.citrix@example\.com/,
    );
    const warned = () =>
      gw
        .logs()
        .split('\n')
        .filter((l) => l.includes(created.mobileId.id) && l.includes('"level":40') && l.includes('not in lower case'));
    assert.equal(warned().length, 1, 'logged when requested');
    const code = codeIn(await mailFor(created.mobileId.id));
    const started = await phone.start({
      request: created.mobileId.id,
      code,
      device: { serial: 'R58M1111222', platform: 'android', keyStores: ['citrix-securevault'] },
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const token = started.body.token as string;
    secrets.push(token);
    const got = await collect(token);
    const pem = openP12(got.credentials.find((c) => c.container === 'citrix-securevault')!);
    assert.match(openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem), /email:cara\.citrix@example\.com/);
    assert.match(openssl(['x509', '-noout', '-subject'], pem), /emailAddress ?= ?cara\.citrix@example\.com/);
    assert.equal(warned().length, 2, 'and again when collected');
    assert.equal((await phone.ack(token)).status, 200);

    const plain = (await requestId({ user: 'cara', credentialProfile: 'smime' })) as { mobileId: { id: string }; warnings?: string[] };
    assert.equal(plain.warnings, undefined, 'a profile without SecureVault has nothing to warn about');
    for (const m of [created.mobileId.id, plain.mobileId.id]) await api('POST', `/mobile-ids/${m}/cancel`, {});
  });

  test('validation: the code waits for a second person; the requester cannot validate their own request', async () => {
    const created = await requestId({ user: 'jane', credentialProfile: 'validated' });
    assert.equal(created.mobileId.status, 'awaiting-validation');
    assert.equal(created.notifications.length, 0, 'nothing is sent before validation');
    assert.equal((await phone.start({ request: created.mobileId.id, code: '12345678', device: iphone('VALID0001') })).status, 409);
    const own = await api('POST', `/mobile-ids/${created.mobileId.id}/validate`, {});
    assert.equal(own.status, 403);
    assert.match(own.json().message as string, /requester cannot validate/);
    const byBob = await api('POST', `/mobile-ids/${created.mobileId.id}/validate`, {}, bobToken);
    assert.equal(byBob.status, 403, 'bob lacks the validate role');
    const validated = await api('POST', `/mobile-ids/${created.mobileId.id}/validate`, {}, approverToken);
    assert.equal(validated.status, 200, validated.body);
    assert.equal((validated.json().mobileId as { status: string }).status, 'ready');
    const code = codeIn(await mailFor(created.mobileId.id));
    const s = await phone.start({ userName: 'jane', code, device: iphone('VALID0001') });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    assert.equal(s.body.mobileId, created.mobileId.id);
    assert.equal((await api('POST', `/mobile-ids/${created.mobileId.id}/validate`, {}, approverToken)).status, 409);
    await api('POST', `/mobile-ids/${created.mobileId.id}/cancel`, {});
  });

  test("roles and MyID's refusals: request my own ID; no one else's; no contact details; no profile the user may receive", async () => {
    const mine = await api('POST', '/mobile-ids', { credentialProfile: 'self-service' }, bobToken);
    assert.equal(mine.status, 201, mine.body);
    const id = (mine.json().mobileId as { id: string; userName: string }).id;
    assert.equal((mine.json().mobileId as { userName: string }).userName, 'bob');
    await mailFor(id);
    const forJane = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'smime' }, bobToken);
    assert.equal(forJane.status, 403);
    assert.match(forJane.json().message as string, /may not request "smime"/);
    const janeSelf = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'self-service' }, bobToken);
    assert.equal(janeSelf.status, 400);
    assert.match(
      janeSelf.json().message as string,
      /^The selected user has no certificates suitable for mobile devices and there are no credential profiles available for issuance\. jane lacks a role/,
    );

    const noContact = await api('POST', '/mobile-ids', { user: 'nocontact', credentialProfile: 'smime' });
    assert.equal(noContact.status, 400);
    assert.equal(
      noContact.json().message,
      'The selected user has neither phone number nor email address registered and so is not suitable for mobile device activation.',
    );
    assert.equal((await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'staff-only' })).status, 400);
    assert.match((await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'smime', notify: 'sms' })).json().message as string, /go by email/);
    assert.equal((await api('POST', '/mobile-ids', { user: 'ghost', credentialProfile: 'smime' })).status, 404);
    assert.equal((await api('POST', '/mobile-ids', { credentialProfile: 'smime' })).status, 400, 'the admin certificate has no user record');
    const listed = (await api('GET', '/mobile-ids?user=bob')).json().mobileIds as { id: string }[];
    assert.deepEqual(
      listed.map((m) => m.id),
      [id],
    );
    await api('POST', `/mobile-ids/${id}/cancel`, {});
  });

  test('known mobiles only: an unregistered phone is refused without using up the code; registered, it collects', async () => {
    const { mobileId } = await requestId({ user: 'jane', credentialProfile: 'known-only' });
    const code = codeIn(await mailFor(mobileId.id));
    const refused = await phone.start({ request: mobileId.id, code, device: iphone('KNOWN0001') });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message as string, /not registered/);
    assert.equal((await api('POST', '/devices', { serial: 'KNOWN0001', platform: 'ios', owner: 'jane' })).status, 201);
    const s = await phone.start({ request: mobileId.id, code, device: iphone('KNOWN0001') });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    await api('POST', `/mobile-ids/${mobileId.id}/cancel`, {});
  });

  test("disable and enable hold and release the certificates; unlock answers the app's challenge; replace cancels and requests anew", async () => {
    const { id, token } = await session('jane', 'smime', iphone('LIFE00001'));
    const got = await collect(token);
    await phone.ack(token);
    const disabled = await api('POST', `/mobile-ids/${id}/disable`, { note: 'on leave' });
    assert.equal((disabled.json().mobileId as { status: string }).status, 'disabled');
    for (const c of got.credentials) assert.equal(await certStatus(c.serial), 'hold');
    assert.equal((await api('POST', `/mobile-ids/${id}/unlock`, { challenge: 'ABCD1234' })).status, 409, 'disabled IDs are not unlocked');
    assert.equal((await api('POST', `/mobile-ids/${id}/enable`, {})).status, 200);
    for (const c of got.credentials) assert.equal(await certStatus(c.serial), 'valid');
    assert.equal((await api('POST', `/mobile-ids/${id}/enable`, {})).status, 409);

    const unlocked = await api('POST', `/mobile-ids/${id}/unlock`, { challenge: 'K7Q2M9X4' });
    assert.equal(unlocked.status, 200, unlocked.body);
    assert.equal(unlocked.json().response, unlockResponse(Buffer.from(got.unlockKey, 'base64url'), 'K7Q2M9X4'), 'the app can check the response with its key');
    assert.match(unlocked.json().response as string, /^\d{8}$/);
    assert.equal((await api('POST', `/mobile-ids/${id}/unlock`, { challenge: 'K7Q2M9X4' }, bobToken)).status, 403, 'bob may not unlock');
    assert.equal((await api('POST', `/mobile-ids/${id}/unlock`, { challenge: 'x' })).status, 400);

    const replaced = await api('POST', `/mobile-ids/${id}/replace`, { reason: 'superseded' });
    assert.equal(replaced.status, 201, replaced.body);
    const { cancelled, replacement } = replaced.json() as { cancelled: { status: string }; replacement: { mobileId: { id: string; replaces: string } } };
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(replacement.mobileId.replaces, id);
    for (const c of got.credentials) assert.equal(await certStatus(c.serial), 'revoked');
    codeIn(await mailFor(replacement.mobileId.id));
    await api('POST', `/mobile-ids/${replacement.mobileId.id}/cancel`, {});
  });

  test("renewal notices go by email and SMS once, with the operator's edited template", async () => {
    const { id, token } = await session('jane', 'smime', iphone('RENEW0001'));
    await collect(token);
    await phone.ack(token);
    const put = await api('PUT', '/mobile/templates/renewal-email', {
      subject: 'Renew by {{notAfter}}',
      body: '<p>{{displayName}}: your {{profile}} ID ends in {{days}} days</p>',
    });
    assert.equal(put.status, 200, put.body);
    assert.equal((await api('PUT', '/mobile/templates/renewal-email', { body: 'no subject' })).status, 400);
    assert.equal((await api('PUT', '/mobile/templates/nope', { body: 'x' })).status, 404);
    const sent = await api('POST', '/mobile-ids/renewal-notices');
    assert.deepEqual(sent.json(), { notified: 1, failed: 0 });
    const mail = await mailbox.next((m) => (m.subject ?? '').startsWith('Renew by'));
    assert.match(mail.text ?? '', /Jane Smith: your smime ID ends in 36[56] days/);
    const text = await sms.next((s) => s.body.includes('expires on'));
    assert.equal(text.headers.authorization, 'Bearer sms-gateway-secret');
    assert.equal((JSON.parse(text.body) as { to: string }).to, '+447700900123');
    assert.deepEqual((await api('POST', '/mobile-ids/renewal-notices')).json(), { notified: 0, failed: 0 }, 'once per mobile ID');
    await api('POST', `/mobile-ids/${id}/cancel`, {});
  });

  test('policy and OpenAPI are served; no code, token or PKCS#12 password reached the log', async () => {
    const policy = await request(base).get('/mobile/v1/policy').ca(rootPem);
    assert.deepEqual(policy.body, {
      logLevel: 4,
      maxLogFiles: -1,
      maxLogStorageMb: 10,
      adminEmail: 'mobile-logs@example.com',
      maxRetries: 5,
      minRetryDelaySeconds: 15,
    });
    const spec = await request(base).get('/mobile/v1/openapi.yaml').ca(rootPem);
    assert.equal(spec.status, 200);
    assert.match(spec.text, /^openapi: 3\.1\.0/);
    for (const path of ['/sessions', '/credentials', '/ack', '/policy']) assert.ok(spec.text.includes(`  ${path}:`), path);
    assert.equal((await request(base).get('/mobile/v1/credentials').ca(rootPem)).status, 401);
    const logs = gw.logs();
    assert.ok(secrets.length > 20);
    for (const s of secrets) assert.ok(!logs.includes(s), 'a secret was logged');
  });
});
