/**
 * Turns the result lines bench/ws1/run.sh collects (one JSON object per wrk
 * run) into the Markdown table kept in bench/README.md ("## Workspace ONE").
 * Per connection count and target: the median over rounds of req/s, p50 and
 * p99, req/s as a share of bare express at the same connection count, the
 * server's CPU time per request and the share computed from it (bare CPU per
 * request / gateway CPU per request), and the goals (>= 50% of bare, p99 <
 * 20 ms) met or not.
 *
 *   node --import tsx bench/ws1/summarize.ts results.jsonl
 */
import { medians, readRuns, type WrkRun } from '../wrk-runs.js';

const SHARE_GOAL = 50;
const P99_GOAL_MS = 20;

const runs = readRuns<WrkRun & { connections: number }>();

const lines = [
  '| connections | target | req/s | p50 (ms) | p99 (ms) | req/s vs bare | server CPU | CPU µs/request | CPU vs bare | goals (≥ 50% of bare, p99 < 20 ms) | req/s per round |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
];
for (const c of [...new Set(runs.map((r) => r.connections))]) {
  const stats = new Map(
    [...new Set(runs.filter((r) => r.connections === c).map((r) => r.target))].map((t) => [
      t,
      medians(runs.filter((r) => r.connections === c && r.target === t)),
    ]),
  );
  const base = stats.get('bare');
  for (const [t, s] of stats) {
    const share = base ? (100 * s.rps) / base.rps : NaN;
    const cpuShare = base ? (100 * base.us) / s.us : NaN;
    const goals =
      t === 'bare'
        ? `p99 ${s.p99 < P99_GOAL_MS ? 'met' : 'not met'} (reference)`
        : `${share >= SHARE_GOAL ? 'met' : '**not met**'} / ${s.p99 < P99_GOAL_MS ? 'met' : '**not met**'}`;
    lines.push(
      `| ${c} | ${s.label} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${Number.isNaN(share) ? 'n/a' : `${share.toFixed(0)}%`} | ${s.cpu.toFixed(0)}% | ${s.us.toFixed(0)} | ${Number.isNaN(cpuShare) ? 'n/a' : `${cpuShare.toFixed(0)}%`} | ${goals} | ${s.rounds.join(', ')} |`,
    );
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
