/**
 * The result lines a bench/<name>/run.sh collects (one JSON object per wrk
 * run, written by its wrk script and run_wrk), read back by its
 * summarize.ts, and their medians over rounds.
 */
import { readFileSync } from 'node:fs';

export interface WrkRun {
  target: string;
  label: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  serverCpu: number;
  cpuUsPerRequest: number;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The runs in the file named by the first argument; exits 2 with the usage line without one. */
export function readRuns<R extends WrkRun>(): R[] {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: summarize.ts RESULTS.jsonl\n');
    process.exit(2);
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as R);
}

/** One target's rounds: the first one's label, req/s of each, and the medians of req/s, p50, p99, server CPU % and CPU µs per request. */
export const medians = (rs: WrkRun[]) => ({
  label: rs[0]!.label,
  rounds: rs.map((r) => Math.round(r.rps)),
  rps: median(rs.map((r) => r.rps)),
  p50: median(rs.map((r) => r.p50)),
  p99: median(rs.map((r) => r.p99)),
  cpu: median(rs.map((r) => r.serverCpu)),
  us: median(rs.map((r) => r.cpuUsPerRequest)),
});
