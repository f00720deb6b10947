/**
 * Trying connectors alone: `credgate connectors list` and
 * `credgate connectors test <id>` from a fresh checkout (no gateway, no
 * database, no PKI), and the same through the admin API of a started
 * gateway, against the vendor stand-ins of test/helpers: a Workspace ONE
 * Escrow Gateway and UEM API, Entra ID, Graph and the Intune services,
 * Mosquitto with MobileIron Core's API, and XenMobile. Each vendor has a
 * connector that passes and one that fails (wrong credentials, a
 * certificate the vendor does not know, a host that does not answer), and
 * no answer, line or log repeats a secret of the files.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshCheckout, spawnCli } from '../helpers/cli.js';
import {
  basicInbound,
  citrixSettings,
  intuneSettings,
  mobileIronSettings,
  SMIME,
  writeConnectorFile,
  ws1Settings,
  type Settings,
} from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startIntuneCloud, type IntuneCloud } from '../helpers/intune-standins.js';
import { startCoreApi, type CoreApiHandle } from '../helpers/mobileiron-standins.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/net.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { assertNoSecrets, type Secret } from '../helpers/secret-scan.js';
import { tempDir } from '../helpers/tmp.js';
import {
  issueTestClient,
  makeTestCa,
  makeTestTls,
  startEscrowGateway,
  startUemApi,
  writeTestTlsFiles,
  type EscrowGatewayHandle,
  type TestTls,
  type TestTlsFiles,
  type UemApiHandle,
} from '../helpers/ws1-standins.js';
import { startXenMobile, type XenMobileStandin } from '../helpers/xenmobile-standin.js';

/** Every secret the connector files are given, through ${VAR} as an operator would. */
const ENV = {
  T_CONSOLE_PASSWORD: 'console-events-pw-4471',
  T_PKCS12_PASSWORD: 'delivered-p12-pw-8812',
  T_EG_P12_PASSWORD: '',
  T_EG_OTHER_P12_PASSWORD: '',
  T_UEM_TENANT: 'aw-tenant-code-5d1e',
  T_UEM_SECRET: 'uem-oauth-secret-93bf',
  T_UEM_WRONG_SECRET: 'uem-oauth-wrong-7c20',
  T_INTUNE_SECRET: 'intune-app-secret-Zq8~',
  T_INTUNE_WRONG_SECRET: 'intune-wrong-secret-41',
  T_BROKER_PASSWORD: 'broker-url-password-3a9f',
  T_CORE_PASSWORD: 'core-api-password-6e0a',
  T_CORE_WRONG_PASSWORD: 'core-api-wrong-pw-11d4',
  T_XM_PASSWORD: 'xms-api-password-9f3a',
  T_XM_PKI_PASSWORD: 'xm-pki-entity-pw-2b7c',
};
const TENANT = 'contoso.onmicrosoft.com';
const INTUNE_APP = 'c0ffee00-14a6-49ae-97bc-6eba6914391e';
const UEM_CLIENT = 'credgate-uem-client';
const FINGERPRINT_RULE = `${'AB:'.repeat(31)}AB`;

describe('connectors tried alone: credgate connectors list / test, and the admin API', () => {
  let checkout: string;
  let dir: string;
  let tls: TestTls;
  let files: TestTlsFiles;
  let eg: EscrowGatewayHandle;
  let uem: UemApiHandle;
  let cloud: IntuneCloud;
  let broker: MosquittoHandle;
  let core: CoreApiHandle;
  let xm: XenMobileStandin;
  let gw: TestGateway;
  /** Everything printed or answered, for the secret scan at the end. */
  const seen: Record<string, string> = {};
  const secrets = (): Secret[] =>
    Object.entries(ENV)
      .filter(([, v]) => v !== '')
      .map(([what, value]) => ({ what, value }));

  /** The CLI as a child process; asynchronous, since the stand-ins it calls answer from this process. */
  const cli = (args: string[], cwd = checkout, env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawnCli(args, { cwd, env: { ...ENV, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (status) => {
        seen[`credgate ${args.join(' ')} (${cwd === checkout ? 'checkout' : cwd})`] = stdout + stderr;
        resolve({ status, stdout, stderr });
      });
    });
  const lines = (r: { stdout: string }) => r.stdout.trimEnd().split('\n');
  const api = async (method: 'GET' | 'POST', path: string, auth: string[] = adminCurlArgs(join(gw.dir, 'certs'))) => {
    const r = await curl(`https://localhost:${gw.port}/api/v1${path}`, [...auth, '--cacert', join(gw.dir, 'certs/root-ca.pem'), '-X', method]);
    seen[`${method} ${path}`] = r.body;
    return r;
  };

  const ws1 = (opts: { p12: string; p12Password: string; uemSecret: string; signing?: string }) =>
    ws1Settings({
      inbound: {
        ...basicInbound('ws1-events', '${T_CONSOLE_PASSWORD}'),
        clientCertificates: { trust: [files.ca], allow: [{ fingerprint: FINGERPRINT_RULE }, { subject: 'CN=ws1-console, O=Example Bank' }] },
      },
      enrolled: { ...SMIME, signing: opts.signing ?? SMIME.signing },
      pkcs12: { password: '${T_PKCS12_PASSWORD}' },
      escrowGateway: { url: eg.url, clientPkcs12: opts.p12, clientPkcs12Password: `\${${opts.p12Password}}`, serverCa: files.ca, timeout: '5s' },
      uem: {
        url: uem.url,
        tenantCode: '${T_UEM_TENANT}',
        oauth: { tokenUrl: uem.tokenUrl, clientId: UEM_CLIENT, clientSecret: `\${${opts.uemSecret}}` },
        serverCa: files.ca,
        timeout: '5s',
      },
    });

  const intune = (secret: string) =>
    intuneSettings(cloud, {
      clientSecret: `\${${secret}}`,
      trust: files.ca,
      timeout: '5s',
      enrolled: { signing: 'smime-signing' },
      pkcs12: { password: '${T_PKCS12_PASSWORD}' },
      polling: { interval: '1h' },
      connectorPublicKey: cloud.connectorPublicKeyPem,
    });

  const mobileiron = (client: { cert: string; key: string }, password: string) =>
    mobileIronSettings({
      enrolled: { signing: 'smime-signing' },
      pkcs12: { password: '${T_PKCS12_PASSWORD}' },
      broker: {
        // Credentials in the URL (which Mosquitto ignores here, the certificate naming the client) are never shown.
        url: `mqtts://credgate-ens:\${T_BROKER_PASSWORD}@127.0.0.1:${broker.port}`,
        ca: files.ca,
        clientCertificate: client,
        connectTimeout: '5s',
      },
      coreApi: {
        url: core.url,
        basic: { username: 'credgate-api', password: `\${${password}}` },
        adminDeviceSpaceId: 1,
        serverCa: files.ca,
        timeout: '5s',
        upload: { ceSettingNames: { signing: 'credgate signing' } },
      },
    });

  const citrix = (url: string) =>
    citrixSettings({ pkiPassword: '${T_XM_PKI_PASSWORD}', xenmobile: { url, password: '${T_XM_PASSWORD}', serverCa: files.ca, timeout: '5s' } });

  before(async () => {
    checkout = freshCheckout();
    dir = join(checkout, 'config/connectors');
    tls = await makeTestTls();
    files = writeTestTlsFiles(tls, tempDir());
    ENV.T_EG_P12_PASSWORD = tls.client.pkcs12Password;
    ENV.T_EG_OTHER_P12_PASSWORD = tls.otherClient.pkcs12Password;

    eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
    uem = await startUemApi({
      cert: tls.server.cert,
      key: tls.server.key,
      tenantCode: ENV.T_UEM_TENANT,
      oauth: { clientId: UEM_CLIENT, clientSecret: ENV.T_UEM_SECRET },
    });
    cloud = await startIntuneCloud({ tls: tls.server, tenant: TENANT, clientId: INTUNE_APP, clientSecret: ENV.T_INTUNE_SECRET });
    broker = await startMosquitto(tempDir(), { ca: files.ca, cert: files.serverCert, key: files.serverKey });
    core = await startCoreApi({
      cert: tls.server.cert,
      key: tls.server.key,
      username: 'credgate-api',
      password: ENV.T_CORE_PASSWORD,
      adminDeviceSpaceId: 1,
      ceSettingNames: ['credgate signing'],
    });
    xm = await startXenMobile({ cert: tls.server.cert, key: tls.server.key, login: 'credgate-api', password: ENV.T_XM_PASSWORD });

    const ens = await issueTestClient(tls.ca, 'credgate-ens');
    const stranger = await issueTestClient(await makeTestCa('Stranger CA'), 'not-core');
    const pem = (name: string, text: string) => {
      writeFileSync(join(checkout, name), text, { mode: 0o600 });
      return join(checkout, name);
    };
    const closedPort = await freePort();
    const connectors: Record<string, Settings> = {
      ws1: ws1({ p12: files.clientP12, p12Password: 'T_EG_P12_PASSWORD', uemSecret: 'T_UEM_SECRET' }),
      // A client certificate the EG's CA issued but that is not on its approved-client list, and a wrong OAuth secret.
      'ws1-denied': ws1({ p12: files.otherClientP12, p12Password: 'T_EG_OTHER_P12_PASSWORD', uemSecret: 'T_UEM_WRONG_SECRET' }),
      intune: intune('T_INTUNE_SECRET'),
      'intune-denied': intune('T_INTUNE_WRONG_SECRET'),
      mi: mobileiron({ cert: pem('ens.pem', ens.cert), key: pem('ens-key.pem', ens.key) }, 'T_CORE_PASSWORD'),
      // A certificate the broker's CA did not issue, and a wrong Core password.
      'mi-denied': mobileiron({ cert: pem('stranger.pem', stranger.cert), key: pem('stranger-key.pem', stranger.key) }, 'T_CORE_WRONG_PASSWORD'),
      xm: citrix(xm.url),
      'xm-unreachable': citrix(`https://127.0.0.1:${closedPort}`),
    };
    for (const [id, settings] of Object.entries(connectors)) writeConnectorFile(dir, id, settings);
  });

  after(async () => {
    await gw?.stop();
    for (const s of [eg, uem, cloud, broker, core, xm]) await s?.stop();
  });

  describe('the CLI, from a fresh checkout', () => {
    test('connectors list: id, kind, file, the URLs under server.publicUrl, and user names and certificate rules, never a password', async () => {
      const r = await cli(['connectors', 'list'], checkout, { CREDGATE_SERVER__PUBLIC_URL: 'https://credgate.example.com' });
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, /^ws1 \(workspace-one\) {2}\S*config\/connectors\/ws1\.yaml$/m);
      assert.match(out, /^ {2}events: https:\/\/credgate\.example\.com\/connectors\/ws1\/events$/m);
      assert.match(
        out,
        /console authenticates with Basic as ws1-events; or a client certificate with fingerprint (AB:){31}AB or subject "CN=ws1-console, O=Example Bank"/,
      );
      assert.match(
        out,
        /^xm \(citrix\) .*\n {2}certsrv: https:\/\/credgate\.example\.com\/connectors\/xm\/certsrv\/\n {2}events by polling https:\/\/127\.0\.0\.1:\d+ every 5m/m,
      );
      assert.match(
        out,
        /^mi \(mobileiron\) .*\n {2}receives no webhooks\n {2}events over MQTT from mqtts:\/\/\[Redacted\]@127\.0\.0\.1:\d+ \(device\/enrolled, device\/retired, device\/wiped\)$/m,
      );
      assert.match(out, /^intune \(intune\) .*\n {2}receives no webhooks\n {2}events by polling managedDevices at https:\/\/127\.0\.0\.1:\d+ every 1h$/m);
      assert.doesNotMatch(out, /console authenticates.*\n.*\n^mi /m, 'a connector nothing calls has no console line');

      const json = await cli(['connectors', 'list', '--json']);
      assert.equal(json.status, 0, json.stderr);
      const listed = (JSON.parse(json.stdout) as { connectors: { id: string; endpoints: { url: string }[]; console?: { basic: string[] } }[] }).connectors;
      assert.deepEqual(listed.map((c) => c.id).sort(), ['intune', 'intune-denied', 'mi', 'mi-denied', 'ws1', 'ws1-denied', 'xm', 'xm-unreachable']);
      const w = listed.find((c) => c.id === 'ws1')!;
      assert.deepEqual(w.endpoints, [{ name: 'events', url: 'https://localhost:8443/connectors/ws1/events' }]);
      assert.deepEqual(w.console?.basic, ['ws1-events']);
    });

    test('Workspace ONE: the Escrow Gateway takes the client certificate and the UEM API the OAuth token; exit 0', async () => {
      const r = await cli(['connectors', 'test', 'ws1']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(lines(r)[0]!, /^ws1 \(workspace-one\) {2}/);
      assert.deepEqual(
        lines(r)
          .slice(1)
          .map((l) => l.split(':')[0]),
        ['ok      escrow gateway', 'ok      uem token', 'ok      uem api'],
      );
      assert.match(r.stdout, /accepted the client certificate \(GET \/v2\/certificates answered 405\)/);
      assert.match(r.stdout, /uem api: https:\/\/127\.0\.0\.1:\d+ answered \(version 23\.10\.0\.0\)/);
      assert.equal(eg.uploads.length, 0, 'nothing was uploaded');
    });

    test('Workspace ONE: a certificate off the approved-client list and a wrong OAuth secret each fail with the reason; exit 1', async () => {
      const r = await cli(['connectors', 'test', 'ws1-denied']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /^failed {2}escrow gateway: https:\/\/127\.0\.0\.1:\d+ refused the client certificate \(HTTP 403\); put it on the Escrow Gateway's approved-client list$/m,
      );
      assert.match(r.stdout, /^failed {2}uem token: https:\/\/127\.0\.0\.1:\d+\/connect\/token: UEM token endpoint answered 401$/m);
      assert.doesNotMatch(r.stdout, /uem api/, 'no API call without a token');
    });

    test('Intune: token, managedDevices and the SCEP validation endpoint; a wrong client secret fails each; exit 0 / 1', async () => {
      const ok = await cli(['connectors', 'test', 'intune']);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.deepEqual(
        lines(ok)
          .slice(1)
          .map((l) => l.split(':')[0]),
        ['ok      token', 'ok      managedDevices', 'ok      scepValidation endpoint'],
      );
      const bad = await cli(['connectors', 'test', 'intune-denied']);
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(
        bad.stdout,
        /^failed {2}token: token endpoint https:\/\/127\.0\.0\.1:\d+\/contoso\.onmicrosoft\.com\/oauth2\/v2\.0\/token answered 401 \(invalid_client/m,
      );
    });

    test('MobileIron: connected to the broker and subscribed, Core API reachable; a stranger certificate and a wrong password fail; exit 0 / 1', async () => {
      const ok = await cli(['connectors', 'test', 'mi']);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(
        ok.stdout,
        /^ok {6}broker: connected to mqtts:\/\/\[Redacted\]@127\.0\.0\.1:\d+; subscribed to device\/enrolled, device\/retired, device\/wiped at QoS 1; the broker kept the session across a reconnect$/m,
      );
      assert.match(ok.stdout, /^ok {6}core-api: \/api\/v2\/ping answered 200$/m);
      const bad = await cli(['connectors', 'test', 'mi-denied']);
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^failed {2}broker: mqtts:\/\/\[Redacted\]@127\.0\.0\.1:\d+: .*unknown ca/m);
      assert.match(bad.stdout, /^failed {2}core-api: credentials rejected \(401\)/m);
    });

    test('Citrix: logs in to XenMobile; a host that does not answer fails; exit 0 / 1', async () => {
      const ok = await cli(['connectors', 'test', 'xm']);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^ok {6}xenmobile login: logged in to https:\/\/127\.0\.0\.1:\d+ as credgate-api$/m);
      const bad = await cli(['connectors', 'test', 'xm-unreachable']);
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^failed {2}xenmobile login: .*ECONNREFUSED/m);
    });

    test("configuration problems are one line with exit status 2: an unknown id, a file the settings name missing, an unknown template; another file's mistake stops only list", async () => {
      const other = freshCheckout();
      const folder = join(other, 'config/connectors');
      const good = { p12: files.clientP12, p12Password: 'T_EG_P12_PASSWORD', uemSecret: 'T_UEM_SECRET' };
      writeConnectorFile(folder, 'ws1', ws1(good));
      writeConnectorFile(folder, 'no-p12', ws1({ ...good, p12: join(other, 'missing.p12') }));
      writeConnectorFile(folder, 'no-template', ws1({ ...good, signing: 'no-such-template' }));
      writeConnectorFile(folder, 'broken', { kind: 'workspace-one', inbound: {} });
      const oneLine = (r: Awaited<ReturnType<typeof cli>>, pattern: RegExp) => {
        assert.equal(r.status, 2, r.stdout + r.stderr);
        assert.match(r.stderr, pattern);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      };
      oneLine(
        await cli(['connectors', 'test', 'nope'], other),
        /^credgate: no connector "nope": \S*config\/connectors has no nope\.yaml \(connectors: broken, no-p12, no-template, ws1\)\n$/,
      );
      oneLine(await cli(['connectors', 'test', '../ws1'], other), /^credgate: a connector id is lower-case letters, digits and dashes/);
      oneLine(
        await cli(['connectors', 'test', 'no-p12'], other),
        /^credgate: \S*config\/connectors\/no-p12\.yaml escrowGateway\.clientPkcs12: cannot read .*missing\.p12 \(ENOENT\)\n$/,
      );
      oneLine(
        await cli(['connectors', 'test', 'no-template'], other),
        /^credgate: \S*config\/connectors\/no-template\.yaml:\d+:\d+ policy\.enrolled\.signing: no template named "no-such-template"/,
      );
      oneLine(await cli(['connectors', 'list'], other), /broken\.yaml/);
      const alone = await cli(['connectors', 'test', 'ws1'], other);
      assert.equal(alone.status, 0, alone.stdout + alone.stderr);
    });

    test('a template a connector derives from its own keys is reported missing at that key: Citrix certsrv.templates', async () => {
      const other = freshCheckout();
      const settings = citrix(xm.url);
      writeConnectorFile(join(other, 'config/connectors'), 'xm', { ...settings, certsrv: { templates: { XenMobileUser: 'no-such-template' } } });
      const r = await cli(['connectors', 'test', 'xm'], other);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /^credgate: \S*config\/connectors\/xm\.yaml:\d+:\d+ certsrv\.templates\.XenMobileUser: no template named "no-such-template"/);
    });

    test('a connector file without a kind is told that, and nothing a vendor schema would say of its other keys', async () => {
      const other = freshCheckout();
      const { kind: _kind, ...withoutKind } = citrix(xm.url);
      writeConnectorFile(join(other, 'config/connectors'), 'xm', withoutKind);
      const r = await cli(['connectors', 'list'], other);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.equal(r.stderr, 'credgate: config/connectors/xm.yaml:1:1 kind: expected "workspace-one", "mobileiron", "citrix" or "intune", got nothing\n');
    });
  });

  describe('the admin API of a started gateway', () => {
    before(async () => {
      Object.assign(process.env, ENV);
      gw = await startTestGateway({ overrides: { connectors: { dir } } });
    });

    test('a log line at start names each connector, its kind, and where its console calls or that it receives no webhooks', async () => {
      const base = `https://localhost:${gw.port}`;
      const msgs = gw
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => String((JSON.parse(l) as { msg: string }).msg));
      assert.ok(msgs.includes(`connector ws1 (workspace-one) loaded; events at ${base}/connectors/ws1/events`), msgs.join('\n'));
      assert.ok(
        msgs.some((m) =>
          new RegExp(
            `^connector xm \\(citrix\\) loaded; certsrv at ${base}/connectors/xm/certsrv/; events by polling https://127\\.0\\.0\\.1:\\d+ every 5m \\(retired and removed devices\\)$`,
          ).test(m),
        ),
        msgs.join('\n'),
      );
      assert.ok(
        msgs.some((m) =>
          /^connector mi \(mobileiron\) loaded; receives no webhooks; events over MQTT from mqtts:\/\/\[Redacted\]@127\.0\.0\.1:\d+ \(device\/enrolled, device\/retired, device\/wiped\)$/.test(
            m,
          ),
        ),
        msgs.join('\n'),
      );
      assert.ok(
        msgs.some((m) =>
          /^connector intune \(intune\) loaded; receives no webhooks; events by polling managedDevices at https:\/\/127\.0\.0\.1:\d+ every 1h$/.test(m),
        ),
        msgs.join('\n'),
      );
    });

    test("GET /api/v1/connectors lists them as the CLI does, with the listener's URL", async () => {
      const r = await api('GET', '/connectors');
      assert.equal(r.status, 200, r.body);
      const listed = (r.json() as { connectors: { id: string; kind: string; file: string; endpoints: { name: string; url: string }[]; console?: unknown }[] })
        .connectors;
      const w = listed.find((c) => c.id === 'ws1')!;
      assert.equal(w.kind, 'workspace-one');
      assert.equal(w.file, join(dir, 'ws1.yaml'));
      assert.deepEqual(w.endpoints, [{ name: 'events', url: `https://localhost:${gw.port}/connectors/ws1/events` }]);
      assert.deepEqual(w.console, {
        basic: ['ws1-events'],
        clientCertificates: { trust: [files.ca], allow: [{ fingerprint: FINGERPRINT_RULE }, { subject: 'CN=ws1-console, O=Example Bank' }] },
      });
      const mi = listed.find((c) => c.id === 'mi')!;
      assert.deepEqual(mi.endpoints, []);
      assert.equal(mi.console, undefined);
    });

    test('POST /api/v1/connectors/{id}/test: each vendor passes with its credentials and fails, with the reason, without', async () => {
      const run = async (id: string) => {
        const r = await api('POST', `/connectors/${id}/test`);
        assert.equal(r.status, 200, r.body);
        return r.json() as { id: string; kind: string; ok: boolean; checks: { name: string; ok: boolean; detail?: string }[] };
      };
      const verdicts = (x: Awaited<ReturnType<typeof run>>) => x.checks.map((c) => [c.name, c.ok]);
      const ws1Ok = await run('ws1');
      assert.equal(ws1Ok.ok, true, JSON.stringify(ws1Ok));
      assert.deepEqual(verdicts(ws1Ok), [
        ['escrow gateway', true],
        ['uem token', true],
        ['uem api', true],
      ]);
      const ws1Bad = await run('ws1-denied');
      assert.equal(ws1Bad.ok, false);
      assert.deepEqual(verdicts(ws1Bad), [
        ['escrow gateway', false],
        ['uem token', false],
      ]);
      assert.match(ws1Bad.checks[0]!.detail!, /refused the client certificate \(HTTP 403\)/);

      assert.deepEqual(verdicts(await run('intune')), [
        ['token', true],
        ['managedDevices', true],
        ['scepValidation endpoint', true],
      ]);
      const intuneBad = await run('intune-denied');
      assert.equal(intuneBad.ok, false);
      assert.match(intuneBad.checks[0]!.detail!, /answered 401 \(invalid_client/);

      assert.deepEqual(verdicts(await run('mi')), [
        ['broker', true],
        ['core-api', true],
      ]);
      assert.deepEqual(verdicts(await run('mi-denied')), [
        ['broker', false],
        ['core-api', false],
      ]);

      assert.deepEqual(verdicts(await run('xm')), [['xenmobile login', true]]);
      const xmBad = await run('xm-unreachable');
      assert.equal(xmBad.ok, false);
      assert.match(xmBad.checks[0]!.detail!, /ECONNREFUSED/);
    });

    test('only the admin role may list or test; an unknown connector is 404', async () => {
      const none = ['--cacert', join(gw.dir, 'certs/root-ca.pem')];
      assert.equal((await api('GET', '/connectors', none)).status, 401);
      assert.equal((await api('POST', '/connectors/ws1/test', none)).status, 401);
      // The console's own credentials open its connector's endpoints, not the admin API.
      const console = ['-u', `ws1-events:${ENV.T_CONSOLE_PASSWORD}`];
      assert.equal((await api('POST', '/connectors/ws1/test', console)).status, 401);
      const unknown = await api('POST', '/connectors/nope/test');
      assert.equal(unknown.status, 404);
      assert.equal((unknown.json() as { error: string }).error, 'not_found');
    });

    test('no secret of the connector files reaches an answer, a printed line or the log', async () => {
      assert.ok(Object.keys(seen).length > 10);
      assertNoSecrets(secrets(), { ...seen, 'gateway log': gw.logs() });
    });
  });
});
