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
 * iPhone Device CA by a CA made here, at the path README.md names.
 * ```sh setup blocks hold the two set-up commands and do not run.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, freshCheckout, waitForLog } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { makeDeviceCa } from '../helpers/iphone.js';
import { codeBlocks, shownAnswers, type CodeBlock } from '../helpers/markdown-examples.js';
import { freePort } from '../helpers/net.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../helpers/private-mariadb.js';
import { mismatches, parseShown } from '../helpers/shown-answer.js';
import { tempDir } from '../helpers/tmp.js';

const DOCS = ['README.md', 'connectors/README.md', ...(existsSync(join(REPO, 'docs')) ? readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [])];
const shellBlocks = DOCS.filter((f) => existsSync(join(REPO, f)))
  .flatMap((f) => codeBlocks(join(REPO, f), f))
  .filter((b) => ['sh', 'bash', 'shell'].includes(b.info[0] ?? ''));
const examples = shellBlocks.filter((b) => !b.info.includes('setup'));

/** Where README.md's iOS OTA section has the operator save Apple's iPhone Device CA. */
const DEVICE_CA = 'certs/apple-iphone-device-ca.pem';
const DOC_GATEWAY = 'localhost:8443';
const DOC_DATABASE = 'db.example.com:3306';

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
      execFile('bash', ['-e', '-o', 'pipefail', '-c', code], { cwd: dir, env: { ...env, CURL_RECORD: answersDir }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const ids = readdirSync(answersDir)
          .filter((f) => f.endsWith('.status'))
          .map((f) => f.slice(0, -'.status'.length))
          .sort();
        const answers = ids.map((id) => ({ status: Number(readFileSync(join(answersDir, `${id}.status`), 'utf8').trim()), body: readFileSync(join(answersDir, `${id}.body`), 'utf8') }));
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, answers });
      });
    });
  }

  before(async () => {
    dir = freshCheckout();
    port = await freePort();
    // A clone has package.json (npm start) and bin/credgate.js, which runs the
    // build of src/; here it runs the sources under test.
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
    const realCurl = await new Promise<string>((resolve, reject) => execFile('bash', ['-c', 'command -v curl'], (e, out) => (e ? reject(e) : resolve(out.trim()))));
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
    Object.assign(env, { PATH: `${record}:${process.env.PATH ?? ''}`, CREDGATE_SERVER__PORT: String(port), CREDGATE_SERVER__HOST: '127.0.0.1', DB_PASSWORD: dbPassword, npm_config_update_notifier: 'false' });

    // The reader's first start: `npm start` on a fresh clone.
    await startGatewayWith('npm start');
    const stand = await makeDeviceCa(tempDir(), 'Stand-in iPhone Device CA');
    copyFileSync(stand.ca, join(dir, DEVICE_CA));
  });

  after(async () => {
    await stopGateway();
    await db?.stop();
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

  test('the MySQL example ran the gateway on the database it names', async () => {
    assert.ok(examples.some((b) => b.code.includes(DOC_DATABASE)), `an example names ${DOC_DATABASE}`);
    assert.ok(gatewayStarts >= 2);
    const tables = (await db.sql('SHOW TABLES FROM credgate')).split('\n').filter(Boolean);
    assert.ok(tables.includes('certificates'), `tables: ${tables.join(', ')}`);
  });
});
