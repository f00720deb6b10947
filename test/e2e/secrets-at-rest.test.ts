/**
 * Secrets stay secret: the flows that handle them run end to end (HTTP
 * Basic, bearer tokens, SCEP with static and one-time challenges and a
 * request left waiting for an operator, certificates with keys generated
 * here, key recovery, a mobile ID collected with its one-time code), then
 * the log, what the CLI printed and every row of the database are searched
 * for each secret used, in every encoding. None may be there in clear.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { TokenRepository } from '../../src/store/tokens.js';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { startMailbox, type Mailbox } from '../helpers/notify-standins.js';
import { openssl } from '../helpers/openssl.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { deviceCsr, newDevice, pkiMessage, readCertRep } from '../helpers/scep-client.js';
import { assertNoSecrets, dumpDatabase, keySecrets, type Secret } from '../helpers/secret-scan.js';
import { tempDir } from '../helpers/tmp.js';

const BASIC_PASSWORD = 'Tr0ub4dor&3-horse-battery';
const STATIC = 'static-challenge-Xq9vT2mWk7';
const HELD = 'held-challenge-Lp4sN8rZc1';

describe('secrets at rest and in logs', () => {
  let gw: TestGateway;
  let base: string;
  let dir: string;
  let mailbox: Mailbox;
  let ra: X509Certificate;
  const secrets: Secret[] = [
    { what: 'the Basic password', value: BASIC_PASSWORD },
    { what: 'the static SCEP challenge', value: STATIC },
    { what: 'the challenge of a waiting SCEP request', value: HELD },
  ];
  const outputs: string[] = [];

  const admin = (path: string, method = 'GET', body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...adminCurlArgs(join(dir, 'certs')),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  const scep = async (profile: string, der: Buffer) => {
    const file = join(dir, `scep-${Math.random()}.der`);
    writeFileSync(file, der);
    const r = await curl(`${base}/scep/${profile}?operation=PKIOperation`, [
      '--cacert',
      join(dir, 'certs/root-ca.pem'),
      '--data-binary',
      `@${file}`,
      '-o',
      `${file}.rep`,
    ]);
    assert.equal(r.status, 200);
    return readFileSync(`${file}.rep`);
  };
  /** Opens a PKCS#12 with openssl; its password and key become secrets to look for. */
  const p12Key = (what: string, b64: string, password: string): KeyObject => {
    const file = join(dir, `${what.replace(/\W/g, '-')}.p12`);
    writeFileSync(file, Buffer.from(b64, 'base64'));
    const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', '-nocerts']);
    const key = createPrivateKey(pem.slice(pem.indexOf('-----BEGIN')));
    secrets.push({ what: `${what} PKCS#12 password`, value: password }, ...keySecrets(`${what} private key`, key));
    return key;
  };

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    mailbox = await startMailbox();
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        auth: { basic: [{ username: 'console', password: BASIC_PASSWORD, principal: 'console', roles: ['admin'] }] },
        scep: { profiles: { default: {}, mdm: { challenge: { static: STATIC } }, held: { challenge: { static: HELD }, approval: true } } },
        notify: { email: { host: '127.0.0.1', port: mailbox.port, requireTls: false, from: 'Example Bank <certificates@example.com>' } },
        // Twelve-digit codes: a shorter code could turn up by chance among the digits of a database dump.
        credentialProfiles: { smime: { certificates: [{ template: 'smime-signing' }, { template: 'smime-encryption' }], otpComplexity: '12-12N' } },
        mobile: { otpDelivery: 'email' },
      },
    });
    ra = new X509Certificate(readFileSync(join(dir, 'certs/scep-ra.pem')));
    const imported = await admin('/users/import', 'POST', [{ userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com' }]);
    assert.equal(imported.status, 200, imported.body);
  });
  after(async () => {
    await gw?.stop();
    await mailbox?.stop();
  });

  test('the flows that handle secrets run', async () => {
    const ca = ['--cacert', join(dir, 'certs/root-ca.pem')];
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-u', `console:${BASIC_PASSWORD}`])).status, 200);
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-u', 'console:not-the-password-at-all'])).status, 401);

    const { token } = await new TokenRepository(gw.db).create({ name: 'ops', roles: ['admin'] });
    secrets.push({ what: 'a bearer token', value: token });
    assert.equal((await curl(`${base}/api/v1/whoami`, [...ca, '-H', `Authorization: Bearer ${token}`])).status, 200);

    // SCEP: a static challenge, a one-time challenge, and a request that waits for an operator with its challenge.
    const device = await newDevice('secret-device');
    assert.equal(
      readCertRep(
        await scep(
          'mdm',
          (await pkiMessage({ type: 'PKCSReq', inner: deviceCsr(device, [{ type: 'CN', value: 'secret-device' }], STATIC), signer: device, recipients: [ra] }))
            .der,
        ),
        ra,
        device,
      ).status,
      'SUCCESS',
    );
    const created = await admin('/scep/challenges', 'POST', { profile: 'default' });
    const oneTime = created.json().challenge as string;
    secrets.push({ what: 'a one-time SCEP challenge', value: oneTime });
    const other = await newDevice('one-time-device');
    assert.equal(
      readCertRep(
        await scep(
          'default',
          (await pkiMessage({ type: 'PKCSReq', inner: deviceCsr(other, [{ type: 'CN', value: 'one-time-device' }], oneTime), signer: other, recipients: [ra] }))
            .der,
        ),
        ra,
        other,
      ).status,
      'SUCCESS',
    );
    const waiting = await newDevice('waiting-device');
    assert.equal(
      readCertRep(
        await scep(
          'held',
          (await pkiMessage({ type: 'PKCSReq', inner: deviceCsr(waiting, [{ type: 'CN', value: 'waiting-device' }], HELD), signer: waiting, recipients: [ra] }))
            .der,
        ),
        ra,
        waiting,
      ).status,
      'PENDING',
    );
    for (const d of [device, other, waiting]) secrets.push(...keySecrets(`the SCEP device key of ${d.cert.subject}`, d.key));

    // A key generated here, and an escrowed one recovered.
    const issued = await admin('/certificates', 'POST', { template: 'smime-encryption', user: { displayName: 'Jane Smith', email: 'jane@example.com' } });
    assert.equal(issued.status, 201, issued.body);
    p12Key('the issued certificate', issued.json().pkcs12 as string, issued.json().pkcs12Password as string);
    const serial = (issued.json().certificate as { serial: string }).serial;
    const recovered = await admin(`/certificates/${serial}/recover-key`, 'POST', { reason: 'mailbox recovery for the secret scan' });
    assert.equal(recovered.status, 200, recovered.body);
    p12Key('the recovered key', recovered.json().pkcs12 as string, recovered.json().pkcs12Password as string);

    // A mobile ID: the code by email, a session, the credentials collected.
    const mobile = await admin('/mobile-ids', 'POST', { user: 'jane', credentialProfile: 'smime' });
    assert.equal(mobile.status, 201, mobile.body);
    const id = (mobile.json().mobileId as { id: string }).id;
    const mail = await mailbox.next((m) => (m.text ?? '').includes(id));
    const code = /one-time code: (\d[\d ]*\d)/.exec(mail.text ?? '')![1]!.replace(/ /g, '');
    secrets.push({ what: 'a one-time code', value: code });
    const rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
    const session = await request(base)
      .post('/mobile/v1/sessions')
      .ca(rootPem)
      .send({ request: id, code, device: { serial: 'F2LX1234ABCD', platform: 'ios', model: 'iPhone15,2', osVersion: '17.4', keyStores: ['system-store'] } });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    secrets.push({ what: 'an Identity Agent session token', value: session.body.token as string });
    const got = await request(base)
      .get('/mobile/v1/credentials')
      .ca(rootPem)
      .set('Authorization', `Bearer ${session.body.token as string}`);
    assert.equal(got.status, 200);
    for (const c of got.body.credentials as { template: string; pkcs12: string; password: string }[])
      p12Key(`the mobile ID's ${c.template}`, c.pkcs12, c.password);

    // What an operator sees of the database: the CLI's listings, on the running gateway's database.
    const config = join(dir, 'cli.yaml');
    writeFileSync(config, [`database: { client: sqlite, filename: ${join(dir, 'data/credgate.db')} }`, `pki: { dir: ${join(dir, 'certs')} }`].join('\n'));
    for (const args of [
      ['jobs', 'list'],
      ['tokens', 'list'],
      ['jobs', 'list', '--status', 'dead'],
    ]) {
      const run = runCli(['--config', config, ...args], { cwd: dir });
      assert.equal(run.status, 0, run.stderr);
      outputs.push(run.stdout + run.stderr);
    }
  });

  test('none of them is in the log, the CLI output or the database', async () => {
    assert.ok(secrets.length >= 20, `${secrets.length} secrets`);
    assertNoSecrets(secrets, { log: gw.logs(), 'CLI output': outputs.join('\n'), database: await dumpDatabase(gw.db) });
  });
});
