/**
 * Where a gateway's main thread spent its time, from the .cpuprofile that
 * `node --cpu-prof --cpu-prof-dir=DIR` writes when the process exits: self
 * time by package (or source file) and by function.
 *
 *   node --import tsx bench/ws1/profile.ts DIR [TOP]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } };

export function summarizeProfile(dir: string, top = 25): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `no .cpuprofile in ${dir}\n`;
  const out: string[] = [];
  for (const file of files) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    const fn = new Map<string, number>();
    const pkg = new Map<string, number>();
    let total = 0;
    p.samples.forEach((id, i) => {
      const us = p.timeDeltas[i] ?? 0;
      total += us;
      const f = byId.get(id)!;
      const where = f.url.replace(/^file:\/\//, '').replace(REPO, '');
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
      const k = m ? m[1]! : where === '' ? `(${f.functionName || 'native'})` : where.startsWith('node:') ? where : where.split('/').slice(0, 3).join('/');
      pkg.set(k, (pkg.get(k) ?? 0) + us);
      const name = `${f.functionName || '(anonymous)'} ${where.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      fn.set(name, (fn.get(name) ?? 0) + us);
    });
    const list = (m: Map<string, number>, k: number) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([n, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${n}`)
        .join('\n');
    out.push(`${join(dir, file)}: ${(total / 1e6).toFixed(1)} s sampled\nby package / file:\n${list(pkg, 15)}\nby function:\n${list(fn, top)}\n`);
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: profile.ts DIR [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfile(dir, Number(process.argv[3] ?? 25)));
}
