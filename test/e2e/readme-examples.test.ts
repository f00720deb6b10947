/**
 * Documentation is executable. Every shell example (```sh, bash or shell)
 * of README.md, connectors/README.md and docs/*.md runs, in order, with
 * bash, from the folder of a fresh checkout, against a gateway started there with
 * `npm start` from the shipped config/credgate.yaml; each curl's answer is
 * compared with the answer the example shows (`# 201 {…}`, see
 * test/helpers/shown-answer.ts), and an example that shows none must get 2xx
 * answers only. An example whose last command is `npm start` restarts the
 * gateway with what it sets, as in the terminal a reader keeps it running in.
 *
 * What is substituted: the gateway's address (localhost:8443 becomes the
 * test's port, given as CREDGATE_SERVER__PORT and CREDGATE_SERVER__HOST) and
 * the example database server's (db.example.com:3306 becomes a MariaDB of the
 * test's own, holding the database and user the example names, whose
 * password is DB_PASSWORD). What a reader brings is stood in for: Apple's
 * iPhone Device CA by a CA made here, at the path README.md names; the
 * Workspace ONE console by the stand-ins of test/helpers/ws1-standins.ts,
 * which take the tenant code and OAuth client the example exports. The
 * checkout holds what git tracks of config/; in its copy of
 * config/connectors/examples/workspace-one.yaml only, the vendor's hosts
 * (the Escrow Gateway eg.example.com, the UEM API as1234.awmdm.com and its
 * token URL na.uemauth.workspaceone.com) become the stand-ins' addresses,
 * and the operator's own files become files made here:
 * /etc/credgate/ws1-eg-client.p12 a client certificate the Escrow Gateway
 * stand-in approves, opened by the password the example exports, and
 * /etc/credgate/ws1-eg-ca.pem the stand-ins' CA, which every process the
 * examples start also trusts as it would the vendor's public CA
 * (NODE_EXTRA_CA_CERTS).
 * ```sh setup blocks hold the two set-up commands and do not run.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, freshCheckout, waitForLog } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { makeDeviceCa } from '../helpers/iphone.js';
import { codeBlocks, quotedAssignments, shownAnswers, type CodeBlock } from '../helpers/markdown-examples.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../helpers/private-mariadb.js';
import { mismatches, parseShown } from '../helpers/shown-answer.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { standInForWs1Example, WS1_EXAMPLE, type Ws1ExampleStandins } from '../helpers/ws1-example-standins.js';

const DOCS = [
  'README.md',
  'connectors/README.md',
  ...(existsSync(join(REPO, 'docs'))
    ? readdirSync(join(REPO, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`)
    : []),
];
const shellBlocks = DOCS.filter((f) => existsSync(join(REPO, f)))
  .flatMap((f) => codeBlocks(join(REPO, f), f))
  .filter((b) => ['sh', 'bash', 'shell'].includes(b.info[0] ?? ''));
const examples = shellBlocks.filter((b) => !b.info.includes('setup'));

/** Where README.md's iOS OTA section has the operator save Apple's iPhone Device CA. */
const DEVICE_CA = 'certs/apple-iphone-device-ca.pem';
const DOC_GATEWAY = 'localhost:8443';
const DOC_DATABASE = 'db.example.com:3306';
/** The examples that try the Workspace ONE connector, and what they set. */
const ws1Examples = examples.filter((b) => b.code.includes(WS1_EXAMPLE.replace(/\.yaml$/, '')));
const ws1Values = Object.assign({}, ...ws1Examples.map((b) => quotedAssignments(b.code))) as Record<string, string>;

const commands = (code: string) =>
  code
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
const startsGateway = (b: CodeBlock) => /(^|\s)npm start$/.test(commands(b.code).at(-1) ?? '');
const listening = (l: Record<string, unknown>) => String(l.msg).startsWith('credgate listening');

describe('documentation examples', () => {
  let dir: string;
  let port: number;
  let db: PrivateMariaDb;
  let env: NodeJS.ProcessEnv;
  let record: string;
  let gateway: ChildProcess | undefined;
  let gatewayStarts = 0;
  let ws1: Ws1ExampleStandins | undefined;

  async function startGatewayWith(code: string): Promise<void> {
    await stopGateway();
    // Its own process group, so that npm, its shell and the gateway stop together.
    const child = spawn('bash', ['-e', '-c', code], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    gateway = child;
    // Detached, it would outlive a test process that dies before after() runs.
    const orphan = () => child.exitCode === null && child.signalCode === null && process.kill(-child.pid!, 'SIGKILL');
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    await waitForLog(child, listening, 120_000);
    gatewayStarts++;
    const ready = await curl(`https://${DOC_GATEWAY.replace('8443', String(port))}/readyz`, ['--cacert', join(dir, 'certs/root-ca.pem')]);
    assert.equal(ready.status, 200, `the gateway is ready: ${ready.body}`);
  }

  async function stopGateway(): Promise<void> {
    const child = gateway;
    gateway = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }

  /** Runs one example; resolves with its exit status, its output and each curl's answer in order. */
  function runExample(code: string): Promise<{ status: number; stdout: string; stderr: string; answers: { status: number; body: string }[] }> {
    const answersDir = tempDir('credgate-answers-');
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['-e', '-o', 'pipefail', '-c', code],
        { cwd: dir, env: { ...env, CURL_RECORD: answersDir }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const ids = readdirSync(answersDir)
            .filter((f) => f.endsWith('.status'))
            .map((f) => f.slice(0, -'.status'.length))
            .sort();
          const answers = ids.map((id) => ({
            status: Number(readFileSync(join(answersDir, `${id}.status`), 'utf8').trim()),
            body: readFileSync(join(answersDir, `${id}.body`), 'utf8'),
          }));
          resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, answers });
        },
      );
    });
  }

  before(async () => {
    dir = freshCheckout();
    port = await freePort();
    // A clone has what git tracks of config/ (the connector examples and
    // sample events with it), package.json (npm start) and bin/credgate.js,
    // which runs the build of src/; here it runs the sources under test.
    for (const file of execFileSync('git', ['ls-files', '-z', '--', 'config'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(REPO, file), join(dir, file));
    }
    copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(
      join(dir, 'bin/credgate.js'),
      [
        '#!/usr/bin/env node',
        `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});`,
        'register();',
        `await import(${JSON.stringify(new URL('../../src/app/cli/main.ts', import.meta.url).href)});`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );

    // curl as written, its answer recorded beside the output the reader sees.
    record = tempDir('credgate-curl-');
    const realCurl = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', 'command -v curl'], (e, out) => (e ? reject(e) : resolve(out.trim()))),
    );
    writeFileSync(
      join(record, 'curl'),
      [
        '#!/usr/bin/env bash',
        'body=$(mktemp "$CURL_RECORD/answer.XXXXXX")',
        `status=$(${realCurl} -sS -o "$body" -w '%{http_code}' "$@")`,
        'rc=$?',
        'cat "$body"',
        'id=$(printf "%06d" "$(ls "$CURL_RECORD" | grep -c "\\.status$")")',
        'mv "$body" "$CURL_RECORD/$id.body"',
        'echo "$status" > "$CURL_RECORD/$id.status"',
        'exit $rc',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );

    db = await startPrivateMariaDb();
    const dbPassword = randomBytes(12).toString('hex');
    await db.sql(
      [
        'CREATE DATABASE credgate CHARACTER SET utf8mb4',
        `CREATE USER 'credgate'@'%' IDENTIFIED BY '${dbPassword}'`,
        "GRANT ALL ON credgate.* TO 'credgate'@'%'",
      ].join(';'),
    );

    // Nothing of the caller's own settings, nor of an npm run around this test.
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CREDGATE_') && !k.startsWith('npm_') && k !== 'NODE_OPTIONS'));
    Object.assign(env, {
      PATH: `${record}:${process.env.PATH ?? ''}`,
      CREDGATE_SERVER__PORT: String(port),
      CREDGATE_SERVER__HOST: '127.0.0.1',
      DB_PASSWORD: dbPassword,
      npm_config_update_notifier: 'false',
    });

    ws1 = await standInForWs1Example(dir, ws1Values);
    env.NODE_EXTRA_CA_CERTS = ws1.caFile;

    // The reader's first start: `npm start` on a fresh clone.
    await startGatewayWith('npm start');
    const stand = await makeDeviceCa(tempDir(), 'Stand-in iPhone Device CA');
    copyFileSync(stand.ca, join(dir, DEVICE_CA));
  });

  after(async () => {
    await stopGateway();
    await db?.stop();
    await ws1?.stop();
  });

  test('README.md has its two set-up commands in one block marked "sh setup", and every other shell example runs', () => {
    const setup = shellBlocks.filter((b) => b.info.includes('setup'));
    assert.deepEqual(
      setup.map((b) => `${b.file}:${commands(b.code).join(' | ')}`),
      ['README.md:npm install && npm start | npm test'],
    );
    assert.ok(examples.length >= 6, `found ${examples.length} examples`);
    assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(DEVICE_CA), `README.md names ${DEVICE_CA}`);
  });

  for (const example of examples) {
    const where = `${example.file}:${example.line}`;
    const code = () => example.code.replaceAll(DOC_GATEWAY, `localhost:${port}`).replaceAll(DOC_DATABASE, `127.0.0.1:${db.port}`);
    if (startsGateway(example)) {
      test(`${where} starts the gateway`, async () => {
        await startGatewayWith(code());
      });
      continue;
    }
    test(`${where} runs as written and answers as shown`, async () => {
      const r = await runExample(code());
      assert.equal(r.status, 0, `${where} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
      const shown = shownAnswers(example.code);
      if (shown.length === 0) {
        for (const a of r.answers) assert.ok(a.status >= 200 && a.status < 300, `${where}: ${a.status} ${a.body}`);
        return;
      }
      assert.equal(r.answers.length, shown.length, `${where}: ${shown.length} answers shown, ${r.answers.length} curl calls made`);
      shown.forEach((s, k) => {
        const got = r.answers[k]!;
        assert.equal(got.status, s.status, `${where}, answer ${k + 1}: ${got.body}`);
        let body: unknown;
        assert.doesNotThrow(() => (body = JSON.parse(got.body)), `${where}, answer ${k + 1} is JSON: ${got.body}`);
        assert.deepEqual(mismatches(parseShown(s.body), body), [], `${where}, answer ${k + 1}`);
      });
    });
  }

  test("the Workspace ONE example checked the connector against the stand-ins, and each sample device got its own signing credential and the user's one encryption credential through the Escrow Gateway", async () => {
    assert.ok(
      ws1Examples.some((b) => b.code.includes(WS1_EXAMPLE)),
      `an example copies ${WS1_EXAMPLE}`,
    );
    assert.ok(ws1!.uem.tokensIssued > 0 && ws1!.uem.requests.some((r) => r.path === '/api/system/info'), 'connectors test reached the UEM API stand-in');
    const posted = [
      ...new Set(ws1Examples.flatMap((b) => [...b.code.matchAll(/@(config\/connectors\/examples\/workspace-one-event\.(?:json|xml))/g)].map((m) => m[1]!))),
    ];
    assert.ok(posted.length > 0, 'an example posts a sample event');
    const samples = posted.map((file) => {
      const text = readFileSync(join(REPO, file), 'utf8');
      const field = (name: string) =>
        file.endsWith('.json') ? String((JSON.parse(text) as Record<string, unknown>)[name]) : new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
      return { file, device: field('DeviceUUID'), user: field('EnrollmentUserUUID') };
    });
    const uploads = await until(
      `the Escrow Gateway stand-in's uploads for ${posted.join(', ')}`,
      () => {
        const found = samples.map((s) => ws1!.eg.uploads.find((u) => u.deviceUuid === s.device));
        return found.every((u) => u !== undefined) && found.map((u) => u!);
      },
      60_000,
    );
    // The PKCS#12 files differ by their salts; the certificates in them are the credentials.
    const certificateIn = (p12: Buffer) => {
      const file = join(tempDir(), 'upload.p12');
      writeFileSync(file, p12);
      const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${ws1Values.WS1_PKCS12_PASSWORD}`, '-nokeys', '-clcerts']);
      return new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'))).serialNumber;
    };
    uploads.forEach((u, k) => {
      assert.equal(u.userUuid, samples[k]!.user, `${samples[k]!.file}: the upload names the user`);
      assert.equal(u.signing.length, 1, `${samples[k]!.file}: one signing credential`);
      assert.equal(u.encryption.length, 1, `${samples[k]!.file}: one encryption credential`);
    });
    assert.equal(new Set(uploads.map((u) => certificateIn(u.signing[0]!))).size, uploads.length, 'a signing credential per device');
    assert.equal(new Set(uploads.map((u) => certificateIn(u.encryption[0]!))).size, 1, "the user's one encryption credential on every device");
  });

  test('the MySQL example ran the gateway on the database it names', async () => {
    assert.ok(
      examples.some((b) => b.code.includes(DOC_DATABASE)),
      `an example names ${DOC_DATABASE}`,
    );
    assert.ok(gatewayStarts >= 2);
    const tables = (await db.sql('SHOW TABLES FROM credgate')).split('\n').filter(Boolean);
    assert.ok(tables.includes('certificates'), `tables: ${tables.join(', ')}`);
  });
});
