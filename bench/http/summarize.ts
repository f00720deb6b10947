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
import { medians, readRuns } from '../wrk-runs.js';

const BASELINE = 'bare';

const runs = readRuns();
const targets = [...new Set(runs.map((r) => r.target))];
const stats = new Map(targets.map((t) => [t, medians(runs.filter((r) => r.target === t))]));
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
