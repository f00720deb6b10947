/**
 * Turns the result lines bench/http/run.sh collects (one JSON object per wrk
 * run) into the Markdown table kept in bench/README.md. Per target it shows
 * the median over rounds of req/s, p50 and p99, req/s as a share of the bare
 * express baseline, and the server's CPU time per request with the same
 * share computed from it (bare CPU per request / target CPU per request),
 * which a busy neighbour on the machine does not skew.
 *
 *   node --import tsx bench/http/summarize.ts results.jsonl
 */
import { readFileSync } from 'node:fs';

interface Run {
  target: string;
  label: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  serverCpu: number;
  cpuUsPerRequest: number;
}

const BASELINE = 'bare';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: summarize.ts RESULTS.jsonl\n');
  process.exit(2);
}
const runs: Run[] = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Run);

const targets = [...new Set(runs.map((r) => r.target))];
const stats = new Map(
  targets.map((t) => {
    const rs = runs.filter((r) => r.target === t);
    return [
      t,
      {
        label: rs[0]!.label,
        rounds: rs.map((r) => Math.round(r.rps)),
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpu: median(rs.map((r) => r.serverCpu)),
        us: median(rs.map((r) => r.cpuUsPerRequest)),
      },
    ];
  }),
);
const base = stats.get(BASELINE);
const share = (num: number | undefined, den: number | undefined) => (num && den ? `${((100 * num) / den).toFixed(0)}%` : 'n/a');

const lines = [
  '| target | req/s | p50 (ms) | p99 (ms) | req/s vs bare | server CPU | CPU µs/request | CPU vs bare | req/s per round |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];
for (const [, s] of stats) {
  lines.push(
    `| ${s.label} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${share(s.rps, base?.rps)} | ${s.cpu.toFixed(0)}% | ${s.us.toFixed(0)} | ${share(base?.us, s.us)} | ${s.rounds.join(', ')} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
