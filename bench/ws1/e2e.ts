/**
 * Workspace ONE end to end (results in bench/README.md, "## Workspace ONE"):
 * enrollments per second from the first event POST until the Escrow Gateway
 * stand-in has every upload, compared with raw native RSA-2048 key
 * generation measured in the same run.
 *
 *   node --import tsx bench/ws1/e2e.ts [flags]
 *
 * The gateway is the real `credgate serve` in a child process (SQLite,
 * dev PKI, logging.level warn) with one workspace-one connector; the EG
 * stand-in (test/helpers/ws1-standins.ts) runs in this process over mTLS.
 * Events are posted over HTTPS keep-alive with Basic auth, 16 in flight, all
 * for one user with a distinct DeviceUUID each, so an enrollment costs one
 * RSA-2048 key (the device's signing key); the user's escrowed encryption
 * credential is issued once and exported again for every device.
 *
 * Variants (each on a fresh database, same PKI):
 *   no-pool   pki.keyPool {} : every key is generated on demand inside the
 *             measured interval, by the job workers (jobs.workers = 2).
 *   pool      the shipped default pool (rsa-2048: 16), full when the burst
 *             starts, refilling in the background (2 more keygens at a time).
 * Native keygen: generateKeyPair('rsa', 2048) at concurrency 2 in this
 * process while the gateway is idle, before and after each variant.
 *
 * Flags: --n 200 (enrollments per variant) --variants no-pool,pool
 *   --keys 40 (keys per native measurement) --in-flight 16 --workers 2
 *   --format modern|apple (PKCS#12 profile, default apple as in the example)
 *   --profile DIR (gateway runs with --cpu-prof; prints its top functions)
 *   --json FILE --keep
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPair, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import Database from 'better-sqlite3';
import { summarizeProfile } from './profile.js';
import { escrowGatewayOf, writeConnectorFile, ws1Settings } from '../../test/helpers/connector-files.js';
import { makeTestTls, startEscrowGateway, writeTestTlsFiles } from '../../test/helpers/ws1-standins.js';
import { until } from '../../test/helpers/wait.js';
import { freePort } from '../../test/helpers/net.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(REPO, 'src/app/cli/main.ts');
const TSX = import.meta.resolve('tsx');

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    variants: { type: 'string', default: 'no-pool,pool' },
    keys: { type: 'string', default: '40' },
    'in-flight': { type: 'string', default: '16' },
    workers: { type: 'string', default: '2' },
    format: { type: 'string', default: 'apple' },
    profile: { type: 'string' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const N = Number(args.n);
const KEYS = Number(args.keys);
const IN_FLIGHT = Number(args['in-flight']);
const WORKERS = Number(args.workers);
const VARIANTS = args.variants.split(',').map((v) => v.trim());
for (const v of VARIANTS) if (!['no-pool', 'pool'].includes(v)) throw new Error(`--variants: unknown ${v}`);
if (!['modern', 'apple'].includes(args.format)) throw new Error('--format: modern or apple');

const t0 = Date.now();
const progress = (msg: string) => process.stderr.write(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] ${msg}\n`);
const CLK_TCK = 100;
/** utime + stime of a process, in seconds (all its threads). */
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const keygen = promisify(generateKeyPair);
/** Native RSA-2048 keys per second at `concurrency`, and CPU seconds per key (this process). */
async function nativeKeygen(keys: number, concurrency = 2): Promise<{ perSecond: number; cpuMsPerKey: number }> {
  let started = 0;
  const c0 = selfCpu();
  const s = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < keys) {
        started += 1;
        await keygen('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
      }
    }),
  );
  const seconds = (performance.now() - s) / 1000;
  return { perSecond: keys / seconds, cpuMsPerKey: (1000 * (selfCpu() - c0)) / keys };
}

// ---------------------------------------------------------------- setup

const dir = mkdtempSync(join(tmpdir(), 'credgate-bench-ws1-e2e-'));
const cleanup: (() => void | Promise<void>)[] = [];
process.on('exit', () => {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
});

const EVENTS_PASSWORD = 'bench-events-password';
const P12_PASSWORD = 'eg-profile-password';
const USER_UUID = 'fe13e814-7415-4fce-9f47-de5a55bfe57a';
const enrollment = (i: number, deviceUuid: string) =>
  JSON.stringify({
    EventId: 148,
    EventType: 'MDM Enrollment Complete',
    DeviceId: 10_000 + i,
    DeviceFriendlyName: `bench device ${i}`,
    EnrollmentEmailAddress: 'zenny@example.com',
    EnrollmentUserName: 'zenny',
    EventTime: '2024-06-01T12:00:00.1234567Z',
    EnrollmentStatus: 'Enrolled',
    CompromisedStatus: '',
    ComplianceStatus: 'Compliant',
    Udid: deviceUuid.replace(/-/g, ''),
    SerialNumber: `BENCH${i}`,
    EnrollmentUserId: 12,
    Platform: 'Apple',
    OperatingSystem: '17.5',
    Ownership: 'CorporateDedicated',
    OrganizationGroupName: 'CEG',
    DeviceUUID: deviceUuid,
    EnrollmentUserUUID: USER_UUID,
  });

interface VariantResult {
  variant: string;
  n: number;
  ackSeconds: number;
  seconds: number;
  perSecond: number;
  firstUploadMs: number;
  /** Seconds from an event's 202 to its upload at the EG. */
  latencyP50: number;
  latencyMax: number;
  gatewayCpuMsPerEnrollment: number;
  gatewayCores: number;
  benchCpuMsPerEnrollment: number;
  uploads: number;
  devices: number;
  deadJobs: number;
  signingCerts: number;
  encryptionCerts: number;
  native: { perSecond: number; cpuMsPerKey: number }[];
}

async function main(): Promise<void> {
  progress(
    `dir ${dir}; ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const tls = await makeTestTls();
  mkdirSync(join(dir, 'tls'));
  const files = writeTestTlsFiles(tls, join(dir, 'tls'));
  const eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
  cleanup.push(() => eg.stop());
  writeConnectorFile(
    join(dir, 'connectors'),
    'ws1',
    ws1Settings({
      eventsPassword: EVENTS_PASSWORD,
      pkcs12: { format: args.format, password: P12_PASSWORD },
      escrowGateway: escrowGatewayOf(eg.url, tls, files),
    }),
  );
  const port = await freePort();
  const pki = join(dir, 'pki');
  writeFileSync(
    join(dir, 'credgate.yaml'),
    [
      `server: { host: 127.0.0.1, port: ${port}, tls: { cert: ${pki}/server.pem, key: ${pki}/server-key.pem } }`,
      `auth: { clientCertificates: { trust: [${pki}/root-ca.pem, ${pki}/issuing-ca.pem], allow: [] } }`,
      `pki: { dir: ${pki} }`,
      `connectors: { dir: ${join(dir, 'connectors')} }`,
      `jobs: { workers: ${WORKERS}, pollInterval: 100ms, backoff: { base: 250ms, max: 2s } }`,
      'logging: { level: warn }',
    ].join('\n'),
  );

  const results: VariantResult[] = [];
  for (const [vi, variant] of VARIANTS.entries()) {
    const dbFile = join(dir, `${variant}.db`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CREDGATE_DATABASE__FILENAME: dbFile,
      CREDGATE_PKI__KEY_POOL: variant === 'pool' ? '{rsa-2048: 16}' : '{}',
    };
    for (const k of Object.keys(env)) if (k.startsWith('CREDGATE_') && !['CREDGATE_DATABASE__FILENAME', 'CREDGATE_PKI__KEY_POOL'].includes(k)) delete env[k];
    delete env.NODE_OPTIONS;
    const profDir = args.profile ? join(args.profile, variant) : undefined;
    const nodeArgs = [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), '--import', TSX, MAIN, '--config', join(dir, 'credgate.yaml'), 'serve'];
    const child: ChildProcess = spawn(process.execPath, nodeArgs, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    const killChild = () => child.kill('SIGKILL');
    process.once('exit', killChild);

    await until('the dev PKI', () => existsSync(join(pki, 'root-ca.pem')), 120_000, 200);
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: readFileSync(join(pki, 'root-ca.pem')) });
    const authorization = `Basic ${Buffer.from(`ws1-events:${EVENTS_PASSWORD}`).toString('base64')}`;
    const call = (method: string, path: string, body?: string) =>
      new Promise<number>((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method,
            path,
            agent,
            servername: 'localhost',
            headers: { Authorization: authorization, ...(body && { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
    await until(
      'the gateway',
      async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited: ${out}`);
        return (await call('GET', '/healthz')) === 200;
      },
      120_000,
      200,
    );
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    const scalar = (sql: string) => Number(Object.values(db.prepare(sql).get() as Record<string, unknown>)[0]);
    if (variant === 'pool') await until('the key pool to fill', () => scalar("select count(*) from key_pool where algorithm = 'rsa-2048'") >= 16, 120_000, 200);
    await sleep(500);

    const native: VariantResult['native'] = [];
    progress(`${variant}: native keygen, ${KEYS} keys at concurrency 2`);
    native.push(await nativeKeygen(KEYS));
    progress(`${variant}: ${native[0]!.perSecond.toFixed(2)} keys/s, ${native[0]!.cpuMsPerKey.toFixed(0)} ms CPU per key`);

    const devices: string[] = Array.from({ length: N }, () => randomUUID());
    const bodies = devices.map((d, i) => enrollment(i, d));
    const deviceSet = new Set(devices);
    const seen = () => new Set(eg.uploads.filter((u) => deviceSet.has(u.deviceUuid)).map((u) => u.deviceUuid)).size;
    const uploadsBefore = eg.uploads.length;
    const g0 = cpuSeconds(child.pid!);
    const b0 = selfCpu();
    const start = performance.now();
    const startWall = Date.now();
    let next = 0;
    let failed = 0;
    const ackedAt = new Map<string, number>();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < N) {
          const i = next++;
          const status = await call('POST', '/connectors/ws1/events', bodies[i]);
          if (status !== 202) failed += 1;
          ackedAt.set(devices[i]!, Date.now());
        }
      }),
    );
    const ackSeconds = (performance.now() - start) / 1000;
    if (failed) throw new Error(`${failed} events were not answered 202`);
    await until(`uploads for ${N} devices`, () => seen() >= N, 600_000, 20);
    const seconds = (performance.now() - start) / 1000;
    const g1 = cpuSeconds(child.pid!);
    const b1 = selfCpu();
    const mine = eg.uploads.slice(uploadsBefore);
    const firstUploadMs = mine.length ? mine[0]!.at.getTime() - startWall : NaN;
    const latencies = mine
      .filter((u) => ackedAt.has(u.deviceUuid))
      .map((u) => u.at.getTime() - ackedAt.get(u.deviceUuid)!)
      .sort((a, b) => a - b);
    const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]! / 1000;
    progress(
      `${variant}: ${N} acknowledged in ${ackSeconds.toFixed(2)} s, all uploaded after ${seconds.toFixed(2)} s = ${(N / seconds).toFixed(2)} enrollments/s`,
    );
    await until('the queue to settle', () => scalar("select count(*) from jobs where status in ('queued', 'running')") === 0, 60_000, 100).catch(
      () => undefined,
    );
    await sleep(300);

    progress(`${variant}: native keygen again`);
    native.push(await nativeKeygen(KEYS));
    progress(`${variant}: ${native[1]!.perSecond.toFixed(2)} keys/s`);

    const certs = Object.fromEntries(
      (db.prepare('select template, count(*) n from certificates group by template').all() as { template: string; n: number }[]).map((r) => [
        r.template,
        Number(r.n),
      ]),
    );
    results.push({
      variant,
      n: N,
      ackSeconds,
      seconds,
      perSecond: N / seconds,
      firstUploadMs,
      latencyP50: pct(0.5),
      latencyMax: pct(1),
      gatewayCpuMsPerEnrollment: (1000 * (g1 - g0)) / N,
      gatewayCores: (g1 - g0) / seconds,
      benchCpuMsPerEnrollment: (1000 * (b1 - b0)) / N,
      uploads: eg.uploads.length - uploadsBefore,
      devices: seen(),
      deadJobs: scalar("select count(*) from jobs where status = 'dead'"),
      signingCerts: certs['smime-signing'] ?? 0,
      encryptionCerts: certs['smime-encryption'] ?? 0,
      native,
    });
    db.close();
    agent.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    process.off('exit', killChild);
    if (profDir) process.stderr.write(summarizeProfile(profDir));
    if (vi < VARIANTS.length - 1) await sleep(1000);
  }

  // ---------------------------------------------------------------- report
  const fmt = (n: number, d = 1) => n.toFixed(d);
  console.log(
    `\nWorkspace ONE end to end: ${N} enrollments per variant (one user, distinct devices), ${IN_FLIGHT} in flight, jobs.workers ${WORKERS}, PKCS#12 ${args.format}\n`,
  );
  console.log(
    '| variant | all 202 after (s) | first / last EG upload after (s) | 202 → upload p50 / max (s) | enrollments/s | native keygen/s (c=2, before / after) | enrollments/s vs keygen/s | gateway CPU ms/enrollment | native CPU ms/key | uploads / devices | dead jobs | certs (signing / encryption) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const kg = (r.native[0]!.perSecond + r.native[1]!.perSecond) / 2;
    const kcpu = (r.native[0]!.cpuMsPerKey + r.native[1]!.cpuMsPerKey) / 2;
    console.log(
      `| ${r.variant} | ${fmt(r.ackSeconds, 2)} | ${fmt(r.firstUploadMs / 1000, 1)} / ${fmt(r.seconds, 1)} | ${fmt(r.latencyP50, 1)} / ${fmt(r.latencyMax, 1)} | ${fmt(r.perSecond, 2)} | ${fmt(kg, 2)} (${fmt(r.native[0]!.perSecond, 2)} / ${fmt(r.native[1]!.perSecond, 2)}) | ${fmt((100 * r.perSecond) / kg, 0)}% | ${fmt(r.gatewayCpuMsPerEnrollment, 0)} | ${fmt(kcpu, 0)} | ${r.uploads} / ${r.devices} | ${r.deadJobs} | ${r.signingCerts} / ${r.encryptionCerts} |`,
    );
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ n: N, inFlight: IN_FLIGHT, workers: WORKERS, format: args.format, results }, null, 2));
}

main()
  .then(async () => {
    for (const c of cleanup.reverse()) await c();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`e2e.ts: ${err instanceof Error ? err.stack : String(err)}\n`);
    for (const c of cleanup.reverse()) await c();
    process.exit(1);
  });
