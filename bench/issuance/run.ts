/**
 * Issuance benchmark (results in bench/README.md, "## Issuance").
 *
 *   npx tsx bench/issuance/run.ts [flags]
 *
 * Three stages, all in one process on a throw-away dev PKI and SQLite database
 * in a temporary directory:
 *
 *   csr     RSA signing with the native signer (OpenSSL via node:crypto) vs
 *           forge's pure-JS RSA, for an RSA-2048 CA key and the dev PKI's
 *           RSA-3072 issuing CA: the signature alone, buildCertificate
 *           (build + sign) and issuer.issue() from a CSR (parse, verify,
 *           build, sign, DB insert, audit row). Event-loop delay is sampled
 *           during each row.
 *   keygen  raw RSA-2048 generateKey() throughput with --concurrency keys in
 *           flight, then S/MIME pairs (smime-signing + smime-encryption for
 *           one user, keys made on demand, no pool) with as many
 *           certificates in flight; rounds alternate the two.
 *   pool    fills a key pool of --pool RSA-2048 keys through the gateway's
 *           own refill, then issues a burst of --burst pairs from it
 *           (--burst-concurrency pairs in flight, each pair's two
 *           certificates one after the other) with the refill running as it
 *           does in the gateway; optionally again with the refill stopped.
 *
 * Runtime is dominated by RSA-2048 key generation (about 3 keys/s per core on
 * the 2-vCPU reference machine): the 1000-key prefill takes ~3.5 min and the
 * default run ~5.5 min; --quiet-burst adds another ~3.5 min.
 *
 * Flags (defaults in brackets):
 *   --stages csr,keygen,pool   stages to run [all]
 *   --native N        native operations per signing row [1000]
 *   --forge N         forge operations per signing row [30]
 *   --csr-concurrency N  issue() calls in flight for the CSR rows [4]
 *   --concurrency L   comma list for the keygen stage [2,4]
 *   --keys N          keys per keygen measurement (pairs = N/2) [40]
 *   --rounds N        interleaved rounds of the keygen stage [2]
 *   --pool N          key pool target [1000]
 *   --burst N         pairs in the pool burst [500]
 *   --burst-concurrency N  pairs in flight during the burst [8]
 *   --burst-ca dev|rsa-2048  CA for the pool stage: the dev PKI's RSA-3072
 *                     issuing CA or an RSA-2048 CA made for the run [dev]
 *   --quiet-burst     also run a second burst with the pool's refill stopped
 *                     (refills the pool first, as long as the prefill)
 *   --profile FILE    CPU-profile the main thread during the last burst:
 *                     writes FILE (.cpuprofile, open in Chrome DevTools) and
 *                     prints self time by function and by package; the
 *                     profiler slows the burst, so its rate is not a result
 *   --json FILE       also write the results as JSON
 *   --keep            keep the temporary directory
 */
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { setImmediate as nextTick } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import forge from 'node-forge';
import { openDatabase } from '../../src/app/database.js';
import { buildIssuance, type Issuance } from '../../src/app/issuance.js';
import { ensurePki, loadMasterKey } from '../../src/app/pki-setup.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { CaRegistry, type CertificateAuthority } from '../../src/pki/ca.js';
import { buildCertificate, type CertificateSpec } from '../../src/pki/certificate.js';
import { devPkiFiles } from '../../src/pki/dev-pki.js';
import { authorityInfoAccess, crlDistributionPoints } from '../../src/pki/extensions.js';
import { Issuer } from '../../src/pki/issuer.js';
import { readKeyFile } from '../../src/pki/key-files.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner, SHA256_WITH_RSA, type Signer } from '../../src/pki/native-signer.js';
import type { Db } from '../../src/store/db.js';
import { buildCsr, csrPem } from '../../test/helpers/csr.js';
import { testConfig } from '../../test/helpers/gateway.js';

// ---------------------------------------------------------------- options

const { values: args } = parseArgs({
  options: {
    stages: { type: 'string', default: 'csr,keygen,pool' },
    native: { type: 'string', default: '1000' },
    forge: { type: 'string', default: '30' },
    'csr-concurrency': { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '2,4' },
    keys: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '2' },
    pool: { type: 'string', default: '1000' },
    burst: { type: 'string', default: '500' },
    'burst-concurrency': { type: 'string', default: '8' },
    'quiet-burst': { type: 'boolean', default: false },
    'burst-ca': { type: 'string', default: 'dev' },
    profile: { type: 'string' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

const int = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${String(args[name])}`);
  return n;
};
const opts = {
  stages: new Set(args.stages.split(',').map((s) => s.trim())),
  native: int('native'),
  forge: int('forge'),
  csrConcurrency: int('csr-concurrency'),
  concurrency: args.concurrency.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency: bad value ${s}`);
    return n;
  }),
  keys: Math.max(2, int('keys') - (int('keys') % 2)),
  rounds: int('rounds'),
  pool: int('pool'),
  burst: int('burst'),
  burstConcurrency: int('burst-concurrency'),
  quietBurst: args['quiet-burst'],
  burstCa: args['burst-ca'],
};
if (!['dev', 'rsa-2048'].includes(opts.burstCa)) throw new Error(`--burst-ca: expected dev or rsa-2048, got ${opts.burstCa}`);
for (const s of opts.stages) if (!['csr', 'keygen', 'pool'].includes(s)) throw new Error(`--stages: unknown stage ${s}`);

// ---------------------------------------------------------------- helpers

const log = createLogger({ level: 'silent' });
const progress = (msg: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const t0 = performance.now();

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (ns: number) => ns / 1e6;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Busy and total jiffies of the whole machine, from /proc/stat (Linux). */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/** Cores busy on the whole machine since `since` (NaN when /proc/stat is unreadable). */
function machineBusyCores(since: ReturnType<typeof machineJiffies>): number {
  const now = machineJiffies();
  if (!since || !now || now.total === since.total) return NaN;
  return ((now.busy - since.busy) / (now.total - since.total)) * cpus().length;
}

/**
 * The main thread's time on a CPU and waiting for one, ns, from
 * /proc/self/task/<pid>/schedstat (Linux). "Main-thread busy" counts a
 * thread that is runnable but not running as busy; these two tell the
 * thread's own work from its waiting for a core.
 */
function mainThreadSched(): { cpu: number; wait: number } | undefined {
  try {
    const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return cpu === undefined || wait === undefined ? undefined : { cpu, wait };
  } catch {
    return undefined;
  }
}

/** The most CPU other processes used during any measurement, in cores. */
let worstOther = 0;

interface Measured {
  ops: number;
  seconds: number;
  perSecond: number;
  /** Event-loop delay while measuring, ms. */
  eldP50: number;
  eldP99: number;
  eldMax: number;
  eldSamples: number;
  /** Share of wall time the main thread was busy (0..1). */
  elu: number;
  /** Process CPU (all threads) per wall second, in cores. */
  cpuCores: number;
  /** CPU used by other processes on the machine meanwhile, in cores (NaN off Linux). */
  otherCores: number;
  /** Main thread per operation: time on a CPU and time runnable but waiting for one, ms (NaN off Linux). */
  mainCpu: number;
  mainWait: number;
  /** Per-operation latency, ms. */
  latP50: number;
  latP99: number;
  /** Sum and sum of squares of the per-operation times, ms. */
  latSum: number;
  latSumSq: number;
}

/**
 * Runs `op(i)` for i in [0, total) with `concurrency` in flight and measures
 * throughput, per-operation latency, event-loop delay and CPU. Synchronous
 * operations yield to the event loop between calls (as one request per tick
 * would), so the event-loop delay shows how long one operation blocks it.
 */
async function measure(total: number, concurrency: number, op: (i: number) => unknown): Promise<Measured> {
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const lat: number[] = [];
  let next = 0;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const machine0 = machineJiffies();
  const sched0 = mainThreadSched();
  eld.enable();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await op(i);
        lat.push(performance.now() - s);
        await nextTick();
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  eld.disable();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const cpuCores = (cpu.user + cpu.system) / 1e6 / seconds;
  const otherCores = Math.max(0, machineBusyCores(machine0) - cpuCores);
  const sched = mainThreadSched();
  worstOther = Math.max(worstOther, otherCores);
  lat.sort((a, b) => a - b);
  return {
    ops: total,
    seconds,
    perSecond: total / seconds,
    eldP50: ms(eld.percentile(50)),
    eldP99: ms(eld.percentile(99)),
    eldMax: ms(eld.max),
    eldSamples: eld.count,
    elu: elu.utilization,
    cpuCores,
    otherCores,
    mainCpu: sched && sched0 ? ms(sched.cpu - sched0.cpu) / total : NaN,
    mainWait: sched && sched0 ? ms(sched.wait - sched0.wait) / total : NaN,
    latP50: quantile(lat, 0.5),
    latP99: quantile(lat, 0.99),
    latSum: lat.reduce((a, b) => a + b, 0),
    latSumSq: lat.reduce((a, b) => a + b * b, 0),
  };
}

/** forge's pure-JS RSA as a Signer (hashing in forge too), for the comparison rows. */
function forgeSigner(key: KeyObject): Signer {
  const forgeKey = forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }).toString());
  return {
    publicKey: new NativeSigner(key).publicKey,
    algorithm: SHA256_WITH_RSA,
    digest: 'sha256',
    sign: async (data) => {
      const md = forge.md.sha256.create();
      md.update(data.toString('binary'));
      return Buffer.from(forgeKey.sign(md), 'binary');
    },
  };
}

/** The Issuer built by buildIssuance, re-created over other CAs (same DB, templates, repositories). */
function issuerWith(core: Issuance, cas: CertificateAuthority[]): Issuer {
  const deps = (core.issuer as unknown as { deps: ConstructorParameters<typeof Issuer>[0] }).deps;
  return new Issuer({ ...deps, cas: new CaRegistry(cas) });
}

async function makeCsrs(count: number, keys: KeyObject[]): Promise<string[]> {
  return keys.length === 0
    ? []
    : Array.from({ length: count }, (_, i) => {
        return csrPem(buildCsr(keys[i % keys.length]!, [{ type: 'CN', value: `bench-${i}` }]));
      });
}

const pairData = (i: number) => ({ user: { displayName: `Bench User ${i}`, email: `user${i}@bench.example`, upn: `user${i}@bench.example` } });

const PAIR = ['smime-signing', 'smime-encryption'] as const;

/** One half of an S/MIME pair for user `i`: the signing or the (escrowed) encryption certificate, key made here. */
async function issueHalf(issuer: Issuer, i: number, template: (typeof PAIR)[number]): Promise<void> {
  const issued = await issuer.issue({ template, data: pairData(i), userId: `user${i}`, actor: 'bench' });
  if (!issued.privateKey) throw new Error(`${template} issued without a server-generated key`);
}

/** One S/MIME pair: signing then encryption for the same user. */
async function issuePair(issuer: Issuer, i: number): Promise<void> {
  for (const template of PAIR) await issueHalf(issuer, i, template);
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Runs `fn` under the V8 CPU profiler, saves the profile and prints where the main thread spent its time. */
async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const out = await fn();
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const fnTime = new Map<string, number>();
  const pkgTime = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const f = byId.get(id);
    if (!f) return;
    totalUs += us;
    const url = f.url.replace(/^file:\/\//, '');
    const pkg = !url
      ? `native ${f.functionName || '(anonymous)'}`
      : url.includes('node_modules/')
        ? url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1')
        : url.startsWith('node:')
          ? 'node: internals'
          : url.replace(/.*\/(src|bench|test)\//, '$1/');
    const name = `${f.functionName || '(anonymous)'} ${url ? `${url.replace(/.*\/(node_modules|src)\//, '')}:${f.lineNumber + 1}` : ''}`.trim();
    fnTime.set(name, (fnTime.get(name) ?? 0) + us);
    pkgTime.set(pkg, (pkgTime.get(pkg) ?? 0) + us);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
      .join('\n');
  progress(`profile (${file}), ${(totalUs / 1e6).toFixed(2)} s of samples; self time by package/file:\n${top(pkgTime, 20)}\nby function:\n${top(fnTime, 30)}`);
  return out;
}

async function poolSize(db: Db): Promise<number> {
  const r = (await db('key_pool').count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(r?.n ?? 0);
}

// ---------------------------------------------------------------- setup

const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  ramGiB: totalmem() / 2 ** 30,
  freeGiB: freemem() / 2 ** 30,
  node: process.version,
  openssl: process.versions.openssl,
  uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
  loadStart: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
};
progress(
  `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.ramGiB.toFixed(1)} GiB, node ${machine.node}, OpenSSL ${machine.openssl}, load ${machine.loadStart}`,
);

{
  const j = machineJiffies();
  await new Promise((r) => setTimeout(r, 3000));
  const busy = machineBusyCores(j);
  (machine as Record<string, unknown>).busyBeforeStart = busy;
  if (busy > 0.2) progress(`WARNING: other processes are using ${fmt(busy, 2)} cores; results will be low and noisy (see the "other procs" columns)`);
}

const dir = mkdtempSync(join(tmpdir(), 'credgate-bench-issuance-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}
const baseConfig = (keyPool: Record<string, number>): Config =>
  testConfig(dir, { pki: { keyPool }, logging: { level: 'silent' }, database: { client: 'sqlite', filename: join(dir, 'data/bench.db') } });

const config = baseConfig({});
const masterKey = loadMasterKey(config, { create: true });
await ensurePki(config, masterKey, log);
const db = await openDatabase(config.database);
const core = buildIssuance({ config, db, masterKey, baseUrl: 'https://gw.bench.example', log });
const devCa = core.cas.get(config.pki.defaultCa)!;
progress(`dev PKI and SQLite database in ${dir}`);

// An RSA-2048 CA next to the dev PKI's RSA-3072 issuing CA.
const ca2048Key = (await generateKey('rsa-2048')).privateKey;
const ca2048Cert = await buildCertificate({
  subject: [{ type: 'CN', value: 'Bench RSA-2048 CA' }],
  publicKey: new NativeSigner(ca2048Key).publicKey,
  notBefore: new Date(Date.now() - 3600_000),
  notAfter: new Date(Date.now() + 10 * 365 * 86_400_000),
  signer: new NativeSigner(ca2048Key),
  ca: { pathLength: 0 },
  keyUsage: { keyCertSign: true, cRLSign: true, digitalSignature: true },
});
const ca2048: CertificateAuthority = { name: 'dev', cert: ca2048Cert.x509, chain: [], signer: new NativeSigner(ca2048Key) };

const results: Record<string, unknown> = { machine, options: { ...opts, stages: [...opts.stages] } };
const tables: string[] = [];

// ---------------------------------------------------------------- stage: csr

if (opts.stages.has('csr')) {
  const ca3072Key = readKeyFile(devPkiFiles(config.pki.dir).issuingKey, masterKey);
  const caSets = [
    { label: 'RSA-2048 CA', key: ca2048Key, cert: ca2048Cert.x509, chain: [] as Buffer[] },
    { label: 'RSA-3072 CA (dev issuing CA)', key: ca3072Key, cert: devCa.cert, chain: devCa.chain },
  ];

  const subjectKeys = await Promise.all(Array.from({ length: 8 }, () => generateKey('rsa-2048')));
  const csrs = await makeCsrs(
    64,
    subjectKeys.map((k) => k.privateKey),
  );
  progress(`csr: ${csrs.length} RSA-2048 CSRs from ${subjectKeys.length} keys ready`);

  const rows: { ca: string; what: string; native: Measured; forge: Measured }[] = [];
  for (const set of caSets) {
    const signers = { native: new NativeSigner(set.key) as Signer, forge: forgeSigner(set.key) };
    const tbsStandIn = Buffer.alloc(900, 'credgate bench tbsCertificate stand-in');
    const spec = (signer: Signer, i: number): CertificateSpec => ({
      subject: [{ type: 'CN', value: `bench-${i}` }],
      publicKey: subjectKeys[i % subjectKeys.length]!.publicKey,
      notBefore: new Date(Date.now() - 300_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      issuer: { cert: set.cert.raw },
      signer,
      keyUsage: { digitalSignature: true },
      extendedKeyUsage: ['clientAuth'],
      extraExtensions: [
        crlDistributionPoints(['https://gw.bench.example/pki/dev.crl']),
        authorityInfoAccess({ ocsp: ['https://gw.bench.example/pki/ocsp'], caIssuers: ['https://gw.bench.example/pki/ca/dev.cer'] }),
      ],
    });
    const issuers = {
      native: issuerWith(core, [{ name: 'dev', cert: set.cert, chain: set.chain, signer: signers.native }]),
      forge: issuerWith(core, [{ name: 'dev', cert: set.cert, chain: set.chain, signer: signers.forge }]),
    };
    // Every signer's output must verify before it is timed.
    for (const kind of ['native', 'forge'] as const) {
      const built = await buildCertificate(spec(signers[kind], 0));
      if (!built.x509.verify(set.cert.publicKey)) throw new Error(`${kind} signature does not verify`);
    }

    const cases: { what: string; run: (kind: 'native' | 'forge', n: number) => Promise<Measured> }[] = [
      { what: 'RSA signature only (signer.sign)', run: (k, n) => measure(n, 1, () => signers[k].sign(tbsStandIn)) },
      { what: 'buildCertificate (build + sign)', run: (k, n) => measure(n, 1, (i) => buildCertificate(spec(signers[k], i))) },
      {
        what: `issue() from CSR, ${opts.csrConcurrency} in flight`,
        run: (k, n) =>
          measure(n, opts.csrConcurrency, (i) =>
            issuers[k].issue({ template: 'tls-client', csr: csrs[i % csrs.length]!, data: { user: { userName: `bench-${i}` } }, actor: 'bench' }),
          ),
      },
    ];
    for (const c of cases) {
      await c.run('native', Math.min(50, opts.native)); // warm-up
      const native = await c.run('native', opts.native);
      const forgeM = await c.run('forge', opts.forge);
      rows.push({ ca: set.label, what: c.what, native, forge: forgeM });
      progress(`csr: ${set.label}, ${c.what}: native ${fmt(native.perSecond)}/s, forge ${fmt(forgeM.perSecond, 1)}/s`);
    }
  }
  results.csr = rows;
  tables.push(
    [
      `### Signing: native vs forge (native n=${opts.native}, forge n=${opts.forge}, same process)`,
      '',
      '| CA key | operation | native /s | forge /s | native ÷ forge | event-loop delay p99 native / forge (ms) | max native / forge (ms) | other procs (cores) |',
      '|---|---|--:|--:|--:|--:|--:|--:|',
      ...rows.map(
        (r) =>
          `| ${r.ca} | ${r.what} | ${fmt(r.native.perSecond)} | ${fmt(r.forge.perSecond, 1)} | ${fmt(r.native.perSecond / r.forge.perSecond, 0)}× | ${fmt(r.native.eldP99, 2)} / ${fmt(r.forge.eldP99, 1)} | ${fmt(r.native.eldMax, 1)} / ${fmt(r.forge.eldMax, 1)} | ${fmt(Math.max(r.native.otherCores, r.forge.otherCores), 2)} |`,
      ),
    ].join('\n'),
  );
}

// ---------------------------------------------------------------- stage: keygen

if (opts.stages.has('keygen')) {
  const pairs = opts.keys / 2;
  // Time spent in keyPool.acquire (here: on-demand key generation) during the pair runs.
  const keyPool = core.keyPool;
  const acquire = keyPool.acquire.bind(keyPool);
  let acquireMs = 0;
  keyPool.acquire = async (algorithm) => {
    const s = performance.now();
    try {
      return await acquire(algorithm);
    } finally {
      acquireMs += performance.now() - s;
    }
  };
  await measure(4, 2, () => generateKey('rsa-2048')); // warm-up
  await measure(1, 1, (i) => issuePair(core.issuer, i));

  interface Side {
    ops: number;
    items: number;
    s: number;
    cpu: number;
    other: number;
    elu: number;
    /** Sum of key-generation time over all keys, ms. */
    genMs: number;
    /** Per-item time: count, sum, sum of squares (ms). */
    n: number;
    sum: number;
    sumSq: number;
  }
  const side = (): Side => ({ ops: 0, items: 0, s: 0, cpu: 0, other: 0, elu: 0, genMs: 0, n: 0, sum: 0, sumSq: 0 });
  const add = (x: Side, m: Measured, ops: number, genMs: number) => {
    x.ops += ops;
    x.items += m.ops;
    x.s += m.seconds;
    x.cpu += m.cpuCores * m.seconds;
    x.other += m.otherCores * m.seconds;
    x.elu += m.elu * m.seconds;
    x.genMs += genMs;
    x.n += m.ops;
    x.sum += m.latSum;
    x.sumSq += m.latSumSq;
  };
  /** Relative standard error of a throughput made of x.n items with independent times. */
  const relSe = (x: Side) => {
    const mean = x.sum / x.n;
    const variance = Math.max(0, x.sumSq / x.n - mean * mean);
    return Math.sqrt(variance) / mean / Math.sqrt(x.n);
  };

  const acc = new Map(opts.concurrency.map((c) => [c, { raw: side(), pairs: side(), ratios: [] as number[] }]));
  let user = 1_000_000;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const c of opts.concurrency) {
      const a = acc.get(c)!;
      const kg = await measure(opts.keys, c, () => generateKey('rsa-2048'));
      add(a.raw, kg, opts.keys, kg.latSum);
      const base = user;
      user += pairs;
      acquireMs = 0;
      // Work items are single certificates (signing, then encryption, of user k), so
      // exactly c keys are generated at a time, as in the raw keygen run above.
      const certs = await measure(2 * pairs, c, (i) => issueHalf(core.issuer, base + Math.floor(i / 2), PAIR[i % 2]!));
      add(a.pairs, certs, pairs, acquireMs);
      const ratio = certs.perSecond / kg.perSecond;
      a.ratios.push(ratio);
      progress(
        `keygen: round ${round}/${opts.rounds}, ${c} in flight: keygen ${fmt(kg.perSecond, 2)} keys/s, pairs ${fmt(certs.perSecond / 2, 2)}/s = ${fmt(certs.perSecond, 2)} keys/s (ratio ${fmt(ratio, 3)}), other procs ${fmt(Math.max(kg.otherCores, certs.otherCores), 2)} cores`,
      );
    }
  }
  keyPool.acquire = acquire;

  const rows = opts.concurrency.map((c) => {
    const { raw, pairs: pr, ratios } = acc.get(c)!;
    const keygenPerSecond = raw.ops / raw.s;
    const pairsPerSecond = pr.ops / pr.s;
    const ratio = (2 * pairsPerSecond) / keygenPerSecond;
    // keys/s = (keys generating at a time) / (time per key), so
    // ratio = occupancy ratio × keygen-speed ratio.
    const occupancyRaw = raw.genMs / (c * raw.s * 1000);
    const occupancyPairs = pr.genMs / (c * pr.s * 1000);
    const msPerKeyRaw = raw.genMs / raw.ops;
    const msPerKeyPairs = pr.genMs / (2 * pr.ops);
    return {
      concurrency: c,
      keys: raw.ops,
      pairs: pr.ops,
      keygenPerSecond,
      pairsPerSecond,
      ratio,
      ratioCi95: 1.96 * ratio * Math.hypot(relSe(raw), relSe(pr)),
      roundRatios: ratios,
      occupancyRaw,
      occupancyPairs,
      occupancyRatio: occupancyPairs / occupancyRaw,
      msPerKeyRaw,
      msPerKeyPairs,
      keygenCpuCores: raw.cpu / raw.s,
      pairsCpuCores: pr.cpu / pr.s,
      pairsElu: pr.elu / pr.s,
      otherCores: (raw.other + pr.other) / (raw.s + pr.s),
    };
  });
  results.keygen = rows;
  tables.push(
    [
      `### Server key generation: S/MIME pairs (no pool) vs raw RSA-2048 keygen, ${opts.rounds} alternating rounds of ${opts.keys} keys each`,
      '',
      '| keys in flight | raw keygen keys/s | pairs/s | pairs/s × 2 | ratio ± 95 % CI (goal ≥ 0.90) | per round | keygen occupancy raw / pairs | ms per key raw / pairs | main thread busy (pairs) | CPU cores raw / pairs | other procs (cores) |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...rows.map(
        (r) =>
          `| ${r.concurrency} | ${fmt(r.keygenPerSecond, 2)} | ${fmt(r.pairsPerSecond, 2)} | ${fmt(2 * r.pairsPerSecond, 2)} | **${fmt(r.ratio, 2)}** ± ${fmt(r.ratioCi95, 2)} ${r.ratio >= 0.9 ? '✔' : '✘'} | ${r.roundRatios.map((x) => fmt(x, 2)).join(', ')} | ${fmt(r.occupancyRaw, 3)} / ${fmt(r.occupancyPairs, 3)} | ${fmt(r.msPerKeyRaw)} / ${fmt(r.msPerKeyPairs)} | ${fmt(100 * r.pairsElu, 1)} % | ${fmt(r.keygenCpuCores, 2)} / ${fmt(r.pairsCpuCores, 2)} | ${fmt(r.otherCores, 2)} |`,
      ),
    ].join('\n'),
  );
}

// ---------------------------------------------------------------- stage: pool

if (opts.stages.has('pool')) {
  if (opts.pool < 2 * opts.burst) progress(`pool: note: --pool ${opts.pool} < 2 × --burst ${opts.burst}; part of the burst will generate keys on demand`);
  const pooled = buildIssuance({ config: baseConfig({ 'rsa-2048': opts.pool }), db, masterKey, baseUrl: 'https://gw.bench.example', log });
  const poolIssuer = opts.burstCa === 'dev' ? pooled.issuer : issuerWith(pooled, [ca2048]);

  const fill = async (label: string) => {
    const start = performance.now();
    const j = machineJiffies();
    const cpu0 = process.cpuUsage();
    const before = await poolSize(db);
    const timer = setInterval(() => {
      void poolSize(db).then((n) => {
        const s = (performance.now() - start) / 1000;
        progress(`pool: ${label}: ${n}/${opts.pool} keys, ${fmt((n - before) / s, 1)} keys/s`);
      });
    }, 5000);
    pooled.keyPool.start();
    await pooled.keyPool.idle();
    clearInterval(timer);
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuCores = (cpu.user + cpu.system) / 1e6 / seconds;
    const otherCores = Math.max(0, machineBusyCores(j) - cpuCores);
    worstOther = Math.max(worstOther, otherCores);
    const after = await poolSize(db);
    return { keys: after - before, seconds, perSecond: (after - before) / seconds, size: after, cpuCores, otherCores };
  };

  let burstNo = 0;
  const burst = async () => {
    const before = await poolSize(db);
    const run = () => measure(opts.burst, opts.burstConcurrency, (i) => issuePair(poolIssuer, 2_000_000 + 100_000 * burstNo + i));
    const last = burstNo === (opts.quietBurst ? 1 : 0);
    const m = args.profile && last ? await profiled(args.profile, run) : await run();
    burstNo++;
    const after = await poolSize(db);
    return { ...m, poolBefore: before, poolAfter: after };
  };

  const prefill = await fill('prefill');
  progress(`pool: prefilled ${prefill.keys} keys in ${fmt(prefill.seconds, 1)} s (${fmt(prefill.perSecond, 2)} keys/s)`);
  await measure(10, 2, (i) => issuePair(poolIssuer, 3_000_000 + i)); // warm-up, 20 keys
  await pooled.keyPool.idle();
  const live = await burst();
  progress(`pool: burst with refill running: ${fmt(live.perSecond, 1)} pairs/s, p50 ${fmt(live.latP50, 1)} ms, p99 ${fmt(live.latP99, 1)} ms`);

  const bursts = [{ label: 'refill running (as deployed)', ...live }];
  if (opts.quietBurst) {
    const refill = await fill('refill');
    progress(`pool: refilled ${refill.keys} keys in ${fmt(refill.seconds, 1)} s`);
    pooled.keyPool.stop(); // no background keygen during this burst
    const quiet = await burst();
    progress(`pool: burst with refill stopped: ${fmt(quiet.perSecond, 1)} pairs/s, p50 ${fmt(quiet.latP50, 1)} ms, p99 ${fmt(quiet.latP99, 1)} ms`);
    bursts.push({ label: 'refill stopped', ...quiet });
  }
  pooled.stop();
  await pooled.keyPool.idle();
  results.pool = { prefill, bursts };
  tables.push(
    [
      `### Key pool: prefill ${opts.pool} RSA-2048 keys, then a burst of ${opts.burst} pairs, ${opts.burstConcurrency} in flight, ${opts.burstCa === 'dev' ? 'RSA-3072 dev issuing CA' : 'RSA-2048 CA'}`,
      '',
      `Prefill: ${prefill.keys} keys in ${fmt(prefill.seconds, 1)} s = **${fmt(prefill.perSecond, 2)} keys/s**, CPU ${fmt(prefill.cpuCores, 2)} cores (other procs ${fmt(prefill.otherCores, 2)}); the pool generates keys in lock-step batches of 2.`,
      '',
      '| burst | pool before → after | pairs/s (goal ≥ 200) | pair latency p50 (ms) | p99 (ms) | main-thread busy | main thread per pair: CPU / waiting for a core (ms) | CPU (cores) | event-loop delay p99 (ms) | other procs (cores) |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...bursts.map(
        (b) =>
          `| ${b.label} | ${b.poolBefore} → ${b.poolAfter} | **${fmt(b.perSecond, 1)}** ${b.perSecond >= 200 ? '✔' : '✘'} | ${fmt(b.latP50, 1)} | ${fmt(b.latP99, 1)} | ${fmt(100 * b.elu, 1)} % | ${fmt(b.mainCpu, 2)} / ${fmt(b.mainWait, 2)} | ${fmt(b.cpuCores, 2)} | ${b.eldSamples ? fmt(b.eldP99, 1) : '–'} | ${fmt(b.otherCores, 2)} |`,
      ),
    ].join('\n'),
  );
}

// ---------------------------------------------------------------- report

core.stop();
await db.destroy();
machine.loadStart += ` → end ${loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')}`;
const total = (performance.now() - t0) / 1000;
const rows = [
  `## Results (${new Date().toISOString()}, ${fmt(total, 0)} s)`,
  '',
  `Machine: ${machine.nproc} CPUs, ${machine.cpu}, ${machine.ramGiB.toFixed(1)} GiB RAM; node ${machine.node}, OpenSSL ${machine.openssl}, UV_THREADPOOL_SIZE ${machine.uvThreadpool}; load average (1/5/15 min) ${machine.loadStart}; other processes used at most ${fmt(worstOther, 2)} cores during any measurement.`,
  '',
  ...tables.flatMap((t) => [t, '']),
];
process.stdout.write(rows.join('\n'));
if (args.json) writeFileSync(args.json, JSON.stringify({ ...results, seconds: total }, null, 2));
if (args.keep) progress(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
