/** The openssl CLI as a peer uses it; stdout and stderr together (many subcommands report on stderr). */
import { spawnSync } from 'node:child_process';

export function openssl(args: string[], input?: string | Buffer): string {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

/** Like openssl() but returns the exit status instead of throwing. */
export function opensslStatus(args: string[]): { status: number; output: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}
