/**
 * Mobile collection benchmark (results in bench/README.md, "## Mobile identities").
 *
 *   npx tsx bench/mobile/run.ts [--phones 400] [--concurrency 8,32] [--key ec-p256|rsa-2048] [--pool N] [--json FILE]
 *
 * A gateway in this process on a throw-away dev PKI and SQLite database.
 * For each concurrency level it pre-approves --phones requests (one
 * certificate each, template key --key, codes on screen) and lets that many
 * phones collect over HTTPS with keep-alive, --concurrency at a time: each
 * POSTs /mobile/v1/sessions, GETs /credentials (one PKCS#12) and POSTs /ack.
 * Reported: collections (sessions) per second over the wall time, and the
 * latency of a whole collection and of each step (p50 / p99). With
 * --key rsa-2048, --pool keys are generated first so collections take keys
 * from the pool as in production. Phones and gateway share the machine's
 * cores, so the numbers are a floor for a gateway on its own host.
 */
import { Agent, request } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startGateway } from '../../src/app/gateway.js';
import { DEFAULT_TEMPLATES } from '../../src/config/schema.js';
import { testConfig } from '../../test/helpers/gateway.js';

const { values: args } = parseArgs({
  options: {
    phones: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8,32' },
    key: { type: 'string', default: 'ec-p256' },
    pool: { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});
const phones = Number(args.phones);
const levels = args.concurrency.split(',').map(Number);
const pool = Number(args.pool);

const dir = mkdtempSync(join(tmpdir(), 'credgate-bench-mobile-'));
const config = testConfig(dir, {
  logging: { level: 'warn' },
  pki: { keyPool: pool > 0 ? { [args.key]: pool } : {} },
  templates: { ...DEFAULT_TEMPLATES, 'bench-device': { preset: 'tls-client', subject: 'CN={{user.userName}}', key: args.key, validity: '30d' } },
  credentialProfiles: { bench: { certificates: [{ template: 'bench-device', container: 'none' }], otpComplexity: '08-08N' } },
  mobile: { maxSessions: -1, sessionTtl: '5m' },
});
const gw = await startGateway({ config, log: pino({ level: 'warn' }) });
const ca = readFileSync(join(dir, 'certs/root-ca.pem'));
const agent = new Agent({ keepAlive: true, ca, maxSockets: Math.max(...levels) });
const caller = { actor: 'bench:admin', name: 'admin', roles: ['admin'] };

function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${gw.url}${path}`,
      { method, agent, headers: { ...(payload && { 'Content-Type': 'application/json' }), ...(token && { Authorization: `Bearer ${token}` }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (v: number) => v.toFixed(1);

if (pool > 0) {
  process.stdout.write(`filling the key pool with ${pool} ${args.key} keys…\n`);
  while (((await gw.db('key_pool').count({ n: '*' }).first()) as { n: number }).n < pool) await new Promise((r) => setTimeout(r, 1000));
}

const results = [];
for (const concurrency of levels) {
  // Pre-approved requests: one person each, the code shown on screen.
  const work: { id: string; code: string; serial: string }[] = [];
  for (let i = 0; i < phones; i++) {
    const userName = `bench-${concurrency}-${i}`;
    await gw.mobile.directory.createPerson({ userName, displayName: `Bench ${i}`, email: `${userName}@example.com` }, 'bench');
    const issued = await gw.mobile.requests.request(caller, { user: userName, credentialProfile: 'bench', notify: 'none' });
    work.push({ id: issued.mobileId.id, code: issued.code!, serial: `BENCH${concurrency}X${i}` });
  }
  const steps = { session: [] as number[], credentials: [] as number[], ack: [] as number[], total: [] as number[] };
  let failures = 0;
  let next = 0;
  const load = loadavg()[0];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let w = work[next++]; w; w = work[next++]) {
        const t0 = performance.now();
        const s = await call('POST', '/mobile/v1/sessions', { request: w.id, code: w.code, device: { serial: w.serial, platform: 'android', keyStores: [] } });
        const t1 = performance.now();
        const c = s.status === 201 ? await call('GET', '/mobile/v1/credentials', undefined, s.json.token as string) : s;
        const t2 = performance.now();
        const a = c.status === 200 ? await call('POST', '/mobile/v1/ack', undefined, s.json.token as string) : c;
        const t3 = performance.now();
        if (a.status !== 200) {
          failures++;
          continue;
        }
        steps.session.push(t1 - t0);
        steps.credentials.push(t2 - t1);
        steps.ack.push(t3 - t2);
        steps.total.push(t3 - t0);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const stat = (v: number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    return { p50: Number(ms(pct(sorted, 50))), p99: Number(ms(pct(sorted, 99))) };
  };
  const row = {
    concurrency,
    phones,
    failures,
    sessionsPerSecond: Number((steps.total.length / wall).toFixed(1)),
    total: stat(steps.total),
    session: stat(steps.session),
    credentials: stat(steps.credentials),
    ack: stat(steps.ack),
    loadBefore: load,
  };
  results.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

process.stdout.write(
  `\n| phones in flight | collections/s | collection p50 / p99 (ms) | session p50 / p99 | credentials p50 / p99 | ack p50 / p99 | failures |\n|--:|--:|--:|--:|--:|--:|--:|\n`,
);
for (const r of results) {
  const f = (s: { p50: number; p99: number }) => `${s.p50} / ${s.p99}`;
  process.stdout.write(`| ${r.concurrency} | ${r.sessionsPerSecond} | ${f(r.total)} | ${f(r.session)} | ${f(r.credentials)} | ${f(r.ack)} | ${r.failures} |\n`);
}
process.stdout.write(`\nkey ${args.key}${pool ? `, pool ${pool}` : ''}; ${cpus().length} CPUs (${cpus()[0]?.model}); Node ${process.version}\n`);
if (args.json) writeFileSync(args.json, JSON.stringify({ key: args.key, pool, results }, null, 2));
agent.destroy();
await gw.stop();
rmSync(dir, { recursive: true, force: true });
