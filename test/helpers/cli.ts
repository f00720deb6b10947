/** Runs the real `credgate` CLI (from source) as a child process. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './tmp.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/app/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/**
 * A directory laid out like a fresh clone: config/credgate.yaml as shipped,
 * with each [from, to] of `replace` applied (each must occur) and `extra`
 * appended.
 */
export function freshCheckout(opts: { replace?: [string, string][]; extra?: string } = {}): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'config'));
  let text = readFileSync(join(REPO, 'config/credgate.yaml'), 'utf8');
  for (const [from, to] of opts.replace ?? []) {
    assert.ok(text.includes(from), `the shipped config has ${from}`);
    text = text.replace(from, to);
  }
  writeFileSync(join(dir, 'config/credgate.yaml'), opts.extra === undefined ? text : `${text}\n${opts.extra}`);
  return dir;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

const baseEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // Tests must not inherit an operator's settings.
  for (const k of Object.keys(env)) if (k.startsWith('CREDGATE_') && !(k in extra)) delete env[k];
  delete env.NODE_OPTIONS;
  return env;
};

export function runCli(args: string[], opts: CliOptions): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: opts.cwd,
    env: baseEnv(opts.env),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Asserts a failed command printed exactly one line, no stack trace, and exited 2. */
export function assertOneLineError(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  assert.equal(r.status, 2, `exit status; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

export function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd: opts.cwd, env: baseEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

const shellWord = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/** The CLI as one shell command line, for pipelines run through bash. */
export function cliCommandLine(args: string[] = []): string {
  return [process.execPath, '--import', TSX, MAIN, ...args].map(shellWord).join(' ');
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), as a person at a
 * terminal does: its stdout and stderr are the terminal, whose output
 * arrives on the child's stdout.
 */
export function spawnCliOnTerminal(args: string[], opts: CliOptions): ChildProcess {
  return spawn('script', ['-qfec', cliCommandLine(args), '/dev/null'], { cwd: opts.cwd, env: baseEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Resolves with the first JSON log line matching `predicate`, collecting all output. */
export function waitForLog(child: ChildProcess, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for log line; stderr: ${stderr}; stdout: ${buffer.slice(-2000)}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (const line of buffer.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (predicate(parsed)) {
            clearTimeout(timer);
            resolve(parsed);
            return;
          }
        } catch {
          /* partial line */
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited with ${code} before the log line; stderr: ${stderr}; stdout: ${buffer.slice(-2000)}`));
    });
  });
}

export function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
