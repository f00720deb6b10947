/**
 * Builds test/tools/scepload (the SCEP load generator) with Debian's
 * Go and micromdm/scep library, once per source version, and runs it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('../tools/scepload', import.meta.url));
const GOPATH_LIBS = '/usr/share/gocode';

/** Path of a scepload binary built from the current sources. */
export function buildScepload(): string {
  const sources = readdirSync(SOURCE)
    .filter((f) => f.endsWith('.go'))
    .sort();
  const version = createHash('sha256');
  for (const f of sources) version.update(f).update(readFileSync(join(SOURCE, f)));
  const out = join(tmpdir(), `credgate-scepload-${version.digest('hex').slice(0, 16)}`);
  if (existsSync(out)) return out;
  if (!existsSync(join(GOPATH_LIBS, 'src/github.com/micromdm/scep'))) {
    throw new Error(
      'scepload needs Debian packages golang-go, golang-github-micromdm-scep-dev and golang-github-fullsailor-pkcs7-dev (npm test installs them through scripts/test-prerequisites.sh)',
    );
  }
  const building = `${out}.${process.pid}`;
  execFileSync('go', ['build', '-o', building, '.'], {
    cwd: SOURCE,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${GOPATH_LIBS}:${join(tmpdir(), 'credgate-gopath')}`, GOCACHE: join(tmpdir(), 'credgate-gocache') },
    stdio: 'pipe',
  });
  renameSync(building, out); // whole or not at all, should two test processes build at once
  return out;
}

export interface LoadResult {
  ok: number;
  fails: number;
  dupSerials: number;
  exitCode: number;
  output: string;
}

/** One scepload run; its private keys are cached in their own directory so later runs skip generating them. */
export function runScepload(binary: string, opts: { url: string; n: number; c: number; challenge: string; env?: NodeJS.ProcessEnv }): Promise<LoadResult> {
  const keys = join(tmpdir(), 'credgate-scepload-keys');
  mkdirSync(keys, { recursive: true });
  const args = ['-url', opts.url, '-n', String(opts.n), '-c', String(opts.c), '-challenge', opts.challenge, '-keys', keys];
  return new Promise((resolve) => {
    execFile(binary, args, { env: { ...process.env, ...opts.env }, timeout: 300_000 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      const field = (name: string) => Number(new RegExp(`${name}=([\\d.]+)`).exec(stdout)?.[1] ?? NaN);
      resolve({
        ok: field('ok'),
        fails: field('fails'),
        dupSerials: field('dup_serials'),
        exitCode: err ? Number((err as { code?: number }).code ?? 1) : 0,
        output,
      });
    });
  });
}
