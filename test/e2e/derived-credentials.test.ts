/**
 * Derived credentials as a PIV card holder, a phone and a card management
 * system live them: curl presents a card certificate to /derived/ over
 * HTTPS, the page shows a QR code and code, the phone collects through
 * /mobile/v1 and `openssl pkcs12` opens what it got. Untrusted, expired and
 * missing cards are refused and create nothing. A second derivation
 * supersedes the first once acknowledged; the card-cancelled report revokes
 * what was derived (`openssl ocsp`, `openssl crl`). An AppConnect phone gets
 * tagged credentials and older decryption keys.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { qrPng } from '../../src/notify/qr.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { startMailbox, type Mailbox } from '../helpers/notify-standins.js';
import { openssl } from '../helpers/openssl.js';
import { issuePivCard, makePivCa, type PivCardFiles } from '../helpers/piv.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

type Json = Record<string, unknown>;
interface Credential {
  serial: string;
  template: string;
  container: string;
  kind: string;
  tag: string;
  pkcs12: string;
  password: string;
}

const intunePhone = (serial: string) => ({ serial, platform: 'ios', model: 'iPhone15,2', keyStores: [] as string[] });
const appConnectPhone = (serial: string) => ({ serial, platform: 'ios', model: 'iPhone15,2', keyStores: ['mobileiron-appconnect'] });
const text = (page: string, id: string) => {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(page);
  assert.ok(m, `no #${id} in the page:\n${page}`);
  return m[1]!.replace(/&amp;/g, '&');
};

describe('derived credentials, from a PIV card to a phone', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let rootPem: Buffer;
  let mailbox: Mailbox;
  let cmsToken: string;
  let cards: Record<'jane' | 'bob' | 'stranger' | 'expired' | 'nobody' | 'unseen' | 'rosa' | 'cardAuth', PivCardFiles>;
  const secrets: string[] = [];

  const cacert = () => ['--cacert', join(dir, 'certs/root-ca.pem')];
  const withCard = (c: PivCardFiles) => ['--cert', c.cert, '--key', c.key];
  const api = (method: string, path: string, body?: unknown, token?: string) =>
    curl(`${base}/api/v1${path}`, [
      ...(token ? [...cacert(), '-H', `Authorization: Bearer ${token}`] : adminCurlArgs(join(dir, 'certs'))),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const phone = {
    start: (body: Json) => request(base).post('/mobile/v1/sessions').ca(rootPem).send(body),
    fetch: (token: string) => request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${token}`),
    ack: (token: string) => request(base).post('/mobile/v1/ack').ca(rootPem).set('Authorization', `Bearer ${token}`),
  };
  const formToken = (page: string) => /name="token" value="([^"]+)"/.exec(page)?.[1] ?? '';
  /** The card holder opens the page and presses the button: the QR page. */
  const derive = async (card: PivCardFiles) => {
    const overview = await curl(`${base}/derived/`, [...cacert(), ...withCard(card)]);
    assert.equal(overview.status, 200, overview.body);
    const r = await curl(`${base}/derived/request`, [...cacert(), ...withCard(card), '--data-urlencode', `token=${formToken(overview.body)}`]);
    return r;
  };
  const deriveOk = async (card: PivCardFiles) => {
    const r = await derive(card);
    assert.equal(r.status, 201, r.body);
    const code = text(r.body, 'code');
    secrets.push(code.replace(/ /g, ''));
    return { page: r.body, code, request: text(r.body, 'request'), link: text(r.body, 'link') };
  };
  /** The app scans the QR code: server, request and code from the link it holds. */
  const collect = async (link: string, device: Json) => {
    const params = new URL(link).searchParams;
    assert.equal(params.get('server'), base);
    const s = await phone.start({ request: params.get('request'), code: params.get('code'), device });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    secrets.push(s.body.token as string);
    const got = await phone.fetch(s.body.token as string);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    for (const c of got.body.credentials as Credential[]) secrets.push(c.password);
    return { token: s.body.token as string, credentials: got.body.credentials as Credential[] };
  };
  const openP12 = (c: Credential) => {
    const file = join(dir, `${c.serial}-${c.kind}.p12`);
    writeFileSync(file, Buffer.from(c.pkcs12, 'base64'));
    const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${c.password}`, '-nodes']);
    assert.equal(openssl(['x509', '-noout', '-pubkey'], pem), openssl(['pkey', '-pubout'], pem), 'the key belongs to the certificate');
    return pem;
  };
  const certificate = async (serial: string) =>
    (await api('GET', `/certificates/${serial}`)).json().certificate as { status: string; revocationReason: string | null; pem: string };
  const mobileId = async (id: string) =>
    (await api('GET', `/mobile-ids/${id}`)).json().mobileId as { status: string; serials: string[]; replaces: string | null };
  const ocsp = async (serial: string) => {
    const leaf = join(dir, `${serial}.pem`);
    writeFileSync(leaf, (await certificate(serial)).pem);
    const issuing = join(dir, 'certs/issuing-ca.pem');
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, readFileSync(issuing, 'utf8') + rootPem.toString());
    const [req, resp] = [join(dir, `${serial}.ocsp-req`), join(dir, `${serial}.ocsp-resp`)];
    openssl(['ocsp', '-issuer', issuing, '-cert', leaf, '-reqout', req]);
    const r = await curl(`${base}/pki/ocsp`, [...cacert(), '-H', 'Content-Type: application/ocsp-request', '--data-binary', `@${req}`, '-o', resp]);
    assert.equal(r.status, 200);
    return openssl(['ocsp', '-respin', resp, '-CAfile', chain, '-issuer', issuing, '-cert', leaf, '-no_nonce']);
  };

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    mailbox = await startMailbox();
    const ca = await makePivCa(dir, 'Example PIV CA');
    const stranger = await makePivCa(dir, 'Unknown PIV CA');
    cards = {
      jane: await issuePivCard(dir, ca, 'jane-card', { cn: 'SMITH.JANE.1234567890', upn: 'Jane.Smith@corp.example.com' }),
      bob: await issuePivCard(dir, ca, 'bob-card', { cn: 'JONES.BOB <script>alert(1)</script>', email: 'bob@example.com' }),
      rosa: await issuePivCard(dir, ca, 'rosa-card', { cn: 'DIAZ.ROSA.1234500000', upn: 'rosa@corp.example.com' }),
      stranger: await issuePivCard(dir, stranger, 'stranger-card', { cn: 'SMITH.JANE.1234567890', upn: 'jane.smith@corp.example.com' }),
      expired: await issuePivCard(dir, ca, 'expired-card', { cn: 'SMITH.JANE.1234567890', upn: 'jane.smith@corp.example.com', expired: true }),
      nobody: await issuePivCard(dir, ca, 'nobody-card', { cn: 'DOE.JOHN.1', upn: 'john.doe@corp.example.com' }),
      unseen: await issuePivCard(dir, ca, 'unseen-card', { cn: 'SMITH.JANE.1234567890', upn: 'jane.smith@corp.example.com' }),
      // The same card's Card Authentication certificate: it answers without the PIN.
      cardAuth: await issuePivCard(dir, ca, 'card-auth', {
        cn: 'SMITH.JANE.1234567890',
        upn: 'jane.smith@corp.example.com',
        policies: ['2.16.840.1.101.3.2.1.3.17'],
      }),
    };
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        notify: { email: { host: '127.0.0.1', port: mailbox.port, requireTls: false, from: 'Example Bank <certificates@example.com>' } },
        mobile: { renewal: { noticeBefore: '400d', channels: ['email'] } },
        credentialProfiles: {
          smime: { certificates: [{ template: 'smime-signing' }] },
          derived: {
            encoding: 'derived-credential',
            certificates: [
              { template: 'derived-piv-auth', container: 'none' },
              { template: 'derived-piv-auth', container: 'mobileiron-appconnect' },
              { template: 'smime-signing', container: 'mobileiron-appconnect' },
              { template: 'smime-encryption', container: 'mobileiron-appconnect' },
            ],
            roles: { request: ['*'] },
          },
        },
        derivedCredentials: { pivTrust: [ca.pem], maxRequestsPerDay: 4 },
      },
    });
    rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
    cmsToken = (await new TokenRepository(gw.db).create({ name: 'card-management', roles: ['card-management'] })).token;
    const imported = await api('POST', '/users/import', [
      { userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com', upn: 'jane.smith@corp.example.com' },
      { userName: 'bob', displayName: 'Bob <b>Jones</b>', email: 'Bob@Example.com', upn: 'bob@corp.example.com' },
      { userName: 'rosa', displayName: 'Rosa Diaz', email: 'rosa@example.com', upn: 'rosa@corp.example.com' },
    ]);
    assert.equal(imported.status, 200, imported.body);
  });
  after(async () => {
    await gw?.stop();
    await mailbox?.stop();
  });

  test('the listener asks for PIV cards: openssl s_client lists the PIV CA among the acceptable client CAs', async () => {
    // Asynchronous: the gateway answers from this same process.
    const out = await new Promise<string>((resolve) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${new URL(base).port}`, '-servername', 'localhost', '-CAfile', join(dir, 'certs/root-ca.pem')],
        { timeout: 20_000 },
        (_err, stdout, stderr) => resolve(stdout + stderr),
      );
      child.stdin?.end();
    });
    assert.match(out, /Acceptable client certificate CA names[\s\S]*CN ?= ?Example PIV CA/);
  });

  test('no card, a card from an unknown CA, an expired card and a card of no known user are refused, and nothing is created', async () => {
    const none = await curl(`${base}/derived/`, cacert());
    assert.equal(none.status, 401);
    assert.match(none.body, /no card certificate was presented/);
    const untrusted = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.stranger)]);
    assert.equal(untrusted.status, 403);
    assert.match(untrusted.body, /does not chain to a trusted PIV CA/);
    const expired = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.expired)]);
    assert.equal(expired.status, 403);
    assert.match(expired.body, /the card certificate expired on/);
    const cardAuth = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.cardAuth)]);
    assert.equal(cardAuth.status, 403);
    assert.match(cardAuth.body, /Card Authentication certificate, which works without the PIN/);
    const nobody = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.nobody)]);
    assert.equal(nobody.status, 403);
    assert.match(nobody.body, /no user has the UPN john\.doe@corp\.example\.com/);
    // The admin's own client certificate is trusted by the listener but is no PIV card.
    const admin = await curl(`${base}/derived/`, adminCurlArgs(join(dir, 'certs')));
    assert.equal(admin.status, 403);
    for (const card of [cards.stranger, cards.expired, cards.nobody, cards.cardAuth]) {
      const post = await curl(`${base}/derived/request`, [...cacert(), ...withCard(card), '-d', 'token=x']);
      assert.ok(post.status === 403, `${post.status} ${post.body}`);
    }
    assert.deepEqual((await api('GET', '/derived-credentials?user=jane')).json().derivedCredentials, []);
    assert.deepEqual((await api('GET', '/mobile-ids?user=jane')).json().mobileIds, []);
  });

  test("the page escapes what the card and the directory say; the form only works with its card's token", async () => {
    const page = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.bob)]);
    assert.equal(page.status, 200, page.body);
    assert.ok(!page.body.includes('<script>alert(1)'), 'card subject escaped');
    assert.match(page.body, /JONES\.BOB \\?&lt;script\\?&gt;alert\(1\)/);
    assert.match(page.body, /Bob &lt;b&gt;Jones&lt;\/b&gt;/, 'found by the email on the card, whatever its case');
    assert.equal(page.body.includes('<b>Jones</b>'), false);
    const janePage = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.jane)]);
    const noToken = await curl(`${base}/derived/request`, [...cacert(), ...withCard(cards.bob), '-X', 'POST']);
    assert.equal(noToken.status, 403);
    const othersToken = await curl(`${base}/derived/request`, [...cacert(), ...withCard(cards.bob), '--data-urlencode', `token=${formToken(janePage.body)}`]);
    assert.equal(othersToken.status, 403);
    assert.match(othersToken.body, /this form has expired or was not sent from this page/);
    assert.deepEqual((await api('GET', '/mobile-ids?user=bob')).json().mobileIds, []);
  });

  let first: { id: string; serials: string[] };

  test('card → page → QR code → the Company Portal collects over HTTPS → openssl opens the PKCS#12; the card is recorded; no renewal, only re-derivation', async () => {
    const { page, code, request: id, link } = await deriveOk(cards.jane);
    assert.match(code, /^\d{4} \d{4}$/);
    assert.match(page, /<img id="qr" src="data:image\/png;base64,/);
    const png = /id="qr" src="data:image\/png;base64,([^"]+)"/.exec(page)![1]!;
    assert.equal(png, (await qrPng(link)).toString('base64'), 'the QR code holds the link shown');
    assert.equal(new URL(link).searchParams.get('code'), code.replace(' ', ''));
    assert.equal(mailbox.received.length, 0, "nothing is sent: the code is on the card holder's screen");

    const got = await collect(link, intunePhone('DC-INTUNE-1'));
    assert.deepEqual(
      got.credentials.map((c) => [c.template, c.container, c.kind, c.tag]),
      [['derived-piv-auth', 'none', 'new', 'authentication']],
      "a phone without AppConnect gets the app's own store only",
    );
    const pem = openP12(got.credentials[0]!);
    const extensions = openssl(['x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], pem);
    assert.match(extensions, /UPN::?jane\.smith@corp\.example\.com/);
    assert.match(extensions, /Microsoft Smartcard Login/);
    assert.equal((await phone.ack(got.token)).status, 200);
    const m = await mobileId(id);
    assert.equal(m.status, 'issued');
    first = { id, serials: m.serials };

    const listed = (await api('GET', '/derived-credentials?user=jane')).json().derivedCredentials as {
      mobileId: string;
      rederiveAt: number;
      notAfter: number;
      card: Json;
    }[];
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0]!.card, {
      issuer: cards.jane.issuer.split('\n').join(', '),
      serial: cards.jane.serial.toLowerCase(),
      fingerprint: cards.jane.fingerprint,
      status: 'active',
    });
    const cert = await certificate(m.serials[0]!);
    const lifetime =
      Date.parse(openssl(['x509', '-noout', '-enddate'], cert.pem).split('=')[1]!) -
      Date.parse(openssl(['x509', '-noout', '-startdate'], cert.pem).split('=')[1]!);
    const notBefore = Date.parse(openssl(['x509', '-noout', '-startdate'], cert.pem).split('=')[1]!);
    assert.ok(Math.abs(listed[0]!.rederiveAt - (notBefore + 0.8 * lifetime)) < 2000, 'derive anew before 80% of the lifetime');
    const audit = ((await api('GET', `/audit?subjectId=${id}`)).json().entries as { action: string; detail: Json }[]).reverse();
    // The first two are written in one transaction (the same millisecond).
    assert.deepEqual(
      [
        ...audit
          .slice(0, 2)
          .map((e) => e.action)
          .sort(),
        ...audit.slice(2).map((e) => e.action),
      ],
      ['derived-credential.request', 'mobile-id.request', 'mobile-id.session', 'mobile-id.deliver', 'mobile-id.issue'],
    );
    assert.deepEqual((audit.find((e) => e.action === 'derived-credential.request')!.detail.card as Json).fingerprint, cards.jane.fingerprint);

    // No renewal: the renewal sweep leaves it alone; the re-derive notice points to the page.
    assert.deepEqual((await api('POST', '/mobile-ids/renewal-notices')).json(), { notified: 0, failed: 0 });
    assert.deepEqual((await api('POST', '/derived-credentials/rederive-notices')).json(), { settled: 0, notified: 1, failed: 0 });
    const notice = await mailbox.next((mail) => (mail.subject ?? '').startsWith('Derive a new mobile credential'));
    assert.match(notice.text ?? '', new RegExp(`sign in with your PIV card at ${base}/derived/`));
    assert.deepEqual((await api('POST', '/derived-credentials/rederive-notices')).json(), { settled: 0, notified: 0, failed: 0 }, 'once');
    const replace = await api('POST', `/mobile-ids/${id}/replace`, {});
    assert.equal(replace.status, 400);
    assert.match(replace.json().message as string, /not replaced or renewed/);
    assert.equal((await mobileId(id)).status, 'issued', 'the refused replace cancelled nothing');
    const byAdmin = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'derived' });
    assert.equal(byAdmin.status, 400);
    assert.match(byAdmin.json().message as string, /requests one with their PIV card/);
  });

  let second: { id: string; credentials: Credential[] };

  test('a new derivation from the same card supersedes the first, once the new one is acknowledged; an AppConnect phone gets tagged credentials', async () => {
    const { request: id, link, page } = await deriveOk(cards.jane);
    assert.match(page, /revoked once the new one is on your device/);
    assert.equal((await mobileId(id)).replaces, first.id);
    const got = await collect(link, appConnectPhone('DC-APPCONNECT-1'));
    assert.deepEqual(
      got.credentials.map((c) => [c.template, c.container, c.kind, c.tag]),
      [
        ['derived-piv-auth', 'none', 'new', 'authentication'],
        ['derived-piv-auth', 'mobileiron-appconnect', 'new', 'authentication'],
        ['smime-signing', 'mobileiron-appconnect', 'new', 'signing'],
        ['smime-encryption', 'mobileiron-appconnect', 'new', 'encryption'],
      ],
    );
    for (const c of got.credentials) openP12(c);
    assert.equal((await mobileId(first.id)).status, 'issued', 'collected but not acknowledged: the first still stands');
    assert.equal((await certificate(first.serials[0]!)).status, 'valid');
    assert.equal((await phone.ack(got.token)).status, 200);
    assert.equal((await mobileId(first.id)).status, 'cancelled');
    assert.deepEqual(await certificate(first.serials[0]!).then((c) => [c.status, c.revocationReason]), ['revoked', 'superseded']);
    assert.match(await ocsp(first.serials[0]!), /: revoked[\s\S]+Reason: superseded/);
    const crlFile = join(dir, 'dev.crl');
    assert.equal((await curl(`${base}/pki/dev.crl`, [...cacert(), '-o', crlFile])).status, 200);
    assert.match(
      openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']),
      new RegExp(`Serial Number: ${first.serials[0]!.toUpperCase()}[\\s\\S]+?Superseded`),
    );
    second = { id, credentials: got.credentials };
  });

  test('older decryption keys reach AppConnect as extra encryption entries, superseded ones included', async () => {
    const third = await deriveOk(cards.jane);
    const got3 = await collect(third.link, appConnectPhone('DC-APPCONNECT-1'));
    const older3 = got3.credentials.filter((c) => c.kind === 'historic');
    assert.deepEqual(
      older3.map((c) => [c.serial, c.tag, c.container]),
      [[second.credentials[3]!.serial, 'encryption', 'mobileiron-appconnect']],
    );
    openP12(older3[0]!);
    assert.equal((await phone.ack(got3.token)).status, 200);
    assert.equal((await certificate(second.credentials[3]!.serial)).revocationReason, 'superseded');

    const fourth = await deriveOk(cards.jane);
    const got4 = await collect(fourth.link, appConnectPhone('DC-APPCONNECT-1'));
    const newEncryption = got3.credentials.find((c) => c.template === 'smime-encryption' && c.kind === 'new')!;
    assert.deepEqual(
      got4.credentials.filter((c) => c.kind === 'historic').map((c) => [c.serial, c.tag]),
      [newEncryption, second.credentials[3]!].map((c) => [c.serial, 'encryption']),
      'newest first: the superseded keys still decrypt old mail',
    );
    assert.equal((await phone.ack(got4.token)).status, 200);
    const dev = (await api('GET', '/devices/DC-APPCONNECT-1')).json().device as { status: string };
    assert.equal(dev.status, 'issued', 'superseding on the same phone leaves the phone issued');
  });

  test('one open request per card and a daily limit: a newer request cancels the uncollected one; past the limit 429 with Retry-After', async () => {
    const a = await deriveOk(cards.rosa);
    const b = await deriveOk(cards.rosa);
    assert.equal((await mobileId(a.request)).status, 'cancelled');
    assert.equal((await mobileId(b.request)).replaces, null, 'nothing issued yet to supersede');
    const stale = await phone.start({ request: a.request, code: a.code, device: intunePhone('DC-ROSA-1') });
    assert.equal(stale.status, 410, 'the earlier code no longer works');
    await deriveOk(cards.rosa);
    await deriveOk(cards.rosa);
    const overview = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.rosa)]);
    const limited = await curl(`${base}/derived/request`, [
      ...cacert(),
      ...withCard(cards.rosa),
      '-D',
      '-',
      '--data-urlencode',
      `token=${formToken(overview.body)}`,
    ]);
    assert.equal(limited.status, 429, limited.body);
    assert.match(limited.body, /4 requests in the last 24 hours/);
    const wait = Number(/^retry-after: (\d+)/im.exec(limited.body)?.[1]);
    assert.ok(wait > 86_000 && wait <= 86_400, `Retry-After ${wait}: when the first of the day's requests is a day old`);
    const open = ((await api('GET', '/mobile-ids?user=rosa')).json().mobileIds as { status: string }[]).filter((m) => m.status === 'ready');
    assert.equal(open.length, 1, 'one open request per card');
  });

  test('the card management system reports the card cancelled: every derived credential of it is revoked (OCSP), the card can no longer derive; repeating changes nothing', async () => {
    const refused = await api(
      'POST',
      '/derived-credentials/piv-cancelled',
      { certificate: cards.jane.pem },
      (await new TokenRepository(gw.db).create({ name: 'someone', roles: [] })).token,
    );
    assert.equal(refused.status, 403);
    const bad = await api('POST', '/derived-credentials/piv-cancelled', {}, cmsToken);
    assert.equal(bad.status, 400);
    assert.match(bad.json().message as string, /give the card's certificate/);
    assert.equal((await api('POST', '/derived-credentials/piv-cancelled', { issuer: 'CN=x', serial: 'not-hex' }, cmsToken)).status, 400);
    assert.equal((await api('POST', '/derived-credentials/piv-cancelled', { certificate: cards.jane.pem, reason: 'certificateHold' }, cmsToken)).status, 400);
    assert.equal((await api('POST', '/derived-credentials/piv-cancelled', { certificate: cards.jane.pem, extra: 1 }, cmsToken)).status, 400);
    const listedBefore = (await api('GET', '/derived-credentials?user=jane')).json().derivedCredentials as {
      mobileId: string;
      status: string;
      card: { status: string };
    }[];
    assert.ok(
      listedBefore.every((d) => d.card.status === 'active'),
      'bad reports changed nothing',
    );
    const live = listedBefore.filter((d) => d.status === 'issued');
    assert.equal(live.length, 1);

    const r = await api('POST', '/derived-credentials/piv-cancelled', { certificate: cards.jane.pem, note: 'card terminated' }, cmsToken);
    assert.equal(r.status, 200, r.body);
    const body = r.json() as { alreadyCancelled: boolean; cancelled: string[]; revoked: string[]; card: Json };
    assert.equal(body.alreadyCancelled, false);
    assert.deepEqual(body.cancelled, [live[0]!.mobileId]);
    const serials = (await mobileId(live[0]!.mobileId)).serials;
    assert.deepEqual(body.revoked, serials);
    for (const serial of serials) assert.match(await ocsp(serial), /: revoked[\s\S]+Reason: cessationOfOperation/);

    const again = await api(
      'POST',
      '/derived-credentials/piv-cancelled',
      { issuer: cards.jane.issuer.split('\n').reverse().join(', '), serial: cards.jane.serial },
      cmsToken,
    );
    assert.equal(again.status, 200, again.body);
    assert.deepEqual(again.json().alreadyCancelled, true);
    assert.deepEqual(again.json().cancelled, []);
    const page = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.jane)]);
    assert.equal(page.status, 403);
    assert.match(page.body, /reported cancelled/);
    const audit = (await api('GET', '/audit?action=piv-card.cancel')).json().entries as { actor: string }[];
    assert.equal(audit.length, 1, 'audited once');
    assert.equal(audit[0]!.actor, 'bearer:card-management');
  });

  test('a card reported cancelled before it was ever used cannot derive', async () => {
    const r = await api(
      'POST',
      '/derived-credentials/piv-cancelled',
      { issuer: `/${cards.unseen.issuer.split('\n').join('/')}`, serial: cards.unseen.serial.replace(/(..)(?!$)/g, '$1:'), reason: 'keyCompromise' },
      cmsToken,
    );
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json().cancelled, []);
    const page = await curl(`${base}/derived/`, [...cacert(), ...withCard(cards.unseen)]);
    assert.equal(page.status, 403);
    assert.match(page.body, /reported cancelled/);
  });

  test('no one-time code, session token or PKCS#12 password reached the log', () => {
    const logs = gw.logs();
    assert.ok(secrets.length > 15);
    for (const s of secrets) assert.ok(!logs.includes(s), 'a secret was logged');
  });
});
